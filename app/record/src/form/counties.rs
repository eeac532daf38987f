//! Master data: Kenya's 47 counties and their sub-counties.
//!
//! Counties and their codes follow the First Schedule of the Constitution of Kenya (2010).
//! Sub-counties are the 290 constituency-aligned sub-counties; where the gazetted administrative
//! list differs, update this table (it is the only place the names live).

/// One county with its code and sub-counties.
#[derive(Debug)]
pub struct County {
    /// Code 1 to 47.
    pub code: u8,
    /// Name.
    pub name: &'static str,
    /// Sub-counties of this county.
    pub sub_counties: &'static [&'static str],
}

/// Looks up a county by code.
pub fn county(code: u8) -> Option<&'static County> {
    COUNTIES.iter().find(|c| c.code == code)
}

/// Whether `sub_county` belongs to the county with `code` (case-insensitive, spaces folded).
pub fn has_sub_county(code: u8, sub_county: &str) -> bool {
    let wanted = fold(sub_county);
    county(code).is_some_and(|c| c.sub_counties.iter().any(|s| fold(s) == wanted))
}

fn fold(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// All 47 counties in code order.
#[rustfmt::skip]
pub const COUNTIES: &[County] = &[
    County { code: 1, name: "Mombasa", sub_counties: &["Changamwe", "Jomvu", "Kisauni", "Nyali", "Likoni", "Mvita"] },
    County { code: 2, name: "Kwale", sub_counties: &["Msambweni", "Lunga Lunga", "Matuga", "Kinango"] },
    County { code: 3, name: "Kilifi", sub_counties: &["Kilifi North", "Kilifi South", "Kaloleni", "Rabai", "Ganze", "Malindi", "Magarini"] },
    County { code: 4, name: "Tana River", sub_counties: &["Garsen", "Galole", "Bura"] },
    County { code: 5, name: "Lamu", sub_counties: &["Lamu East", "Lamu West"] },
    County { code: 6, name: "Taita-Taveta", sub_counties: &["Taveta", "Wundanyi", "Mwatate", "Voi"] },
    County { code: 7, name: "Garissa", sub_counties: &["Garissa Township", "Balambala", "Lagdera", "Dadaab", "Fafi", "Ijara"] },
    County { code: 8, name: "Wajir", sub_counties: &["Wajir North", "Wajir East", "Tarbaj", "Wajir West", "Eldas", "Wajir South"] },
    County { code: 9, name: "Mandera", sub_counties: &["Mandera West", "Banissa", "Mandera North", "Mandera South", "Mandera East", "Lafey"] },
    County { code: 10, name: "Marsabit", sub_counties: &["Moyale", "North Horr", "Saku", "Laisamis"] },
    County { code: 11, name: "Isiolo", sub_counties: &["Isiolo North", "Isiolo South"] },
    County { code: 12, name: "Meru", sub_counties: &["Igembe South", "Igembe Central", "Igembe North", "Tigania West", "Tigania East", "North Imenti", "Buuri", "Central Imenti", "South Imenti"] },
    County { code: 13, name: "Tharaka-Nithi", sub_counties: &["Maara", "Chuka/Igambang'ombe", "Tharaka"] },
    County { code: 14, name: "Embu", sub_counties: &["Manyatta", "Runyenjes", "Mbeere South", "Mbeere North"] },
    County { code: 15, name: "Kitui", sub_counties: &["Mwingi North", "Mwingi West", "Mwingi Central", "Kitui West", "Kitui Rural", "Kitui Central", "Kitui East", "Kitui South"] },
    County { code: 16, name: "Machakos", sub_counties: &["Masinga", "Yatta", "Kangundo", "Matungulu", "Kathiani", "Mavoko", "Machakos Town", "Mwala"] },
    County { code: 17, name: "Makueni", sub_counties: &["Mbooni", "Kilome", "Kaiti", "Makueni", "Kibwezi West", "Kibwezi East"] },
    County { code: 18, name: "Nyandarua", sub_counties: &["Kinangop", "Kipipiri", "Ol Kalou", "Ol Jorok", "Ndaragwa"] },
    County { code: 19, name: "Nyeri", sub_counties: &["Tetu", "Kieni", "Mathira", "Othaya", "Mukurweini", "Nyeri Town"] },
    County { code: 20, name: "Kirinyaga", sub_counties: &["Mwea", "Gichugu", "Ndia", "Kirinyaga Central"] },
    County { code: 21, name: "Murang'a", sub_counties: &["Kangema", "Mathioya", "Kiharu", "Kigumo", "Maragwa", "Kandara", "Gatanga"] },
    County { code: 22, name: "Kiambu", sub_counties: &["Gatundu South", "Gatundu North", "Juja", "Thika Town", "Ruiru", "Githunguri", "Kiambu", "Kiambaa", "Kabete", "Kikuyu", "Limuru", "Lari"] },
    County { code: 23, name: "Turkana", sub_counties: &["Turkana North", "Turkana West", "Turkana Central", "Loima", "Turkana South", "Turkana East"] },
    County { code: 24, name: "West Pokot", sub_counties: &["Kapenguria", "Sigor", "Kacheliba", "Pokot South"] },
    County { code: 25, name: "Samburu", sub_counties: &["Samburu West", "Samburu North", "Samburu East"] },
    County { code: 26, name: "Trans-Nzoia", sub_counties: &["Kwanza", "Endebess", "Saboti", "Kiminini", "Cherangany"] },
    County { code: 27, name: "Uasin Gishu", sub_counties: &["Soy", "Turbo", "Moiben", "Ainabkoi", "Kapseret", "Kesses"] },
    County { code: 28, name: "Elgeyo-Marakwet", sub_counties: &["Marakwet East", "Marakwet West", "Keiyo North", "Keiyo South"] },
    County { code: 29, name: "Nandi", sub_counties: &["Tinderet", "Aldai", "Nandi Hills", "Chesumei", "Emgwen", "Mosop"] },
    County { code: 30, name: "Baringo", sub_counties: &["Tiaty", "Baringo North", "Baringo Central", "Baringo South", "Mogotio", "Eldama Ravine"] },
    County { code: 31, name: "Laikipia", sub_counties: &["Laikipia West", "Laikipia East", "Laikipia North"] },
    County { code: 32, name: "Nakuru", sub_counties: &["Molo", "Njoro", "Naivasha", "Gilgil", "Kuresoi South", "Kuresoi North", "Subukia", "Rongai", "Bahati", "Nakuru Town West", "Nakuru Town East"] },
    County { code: 33, name: "Narok", sub_counties: &["Kilgoris", "Emurua Dikirr", "Narok North", "Narok East", "Narok South", "Narok West"] },
    County { code: 34, name: "Kajiado", sub_counties: &["Kajiado North", "Kajiado Central", "Kajiado East", "Kajiado West", "Kajiado South"] },
    County { code: 35, name: "Kericho", sub_counties: &["Kipkelion East", "Kipkelion West", "Ainamoi", "Bureti", "Belgut", "Sigowet/Soin"] },
    County { code: 36, name: "Bomet", sub_counties: &["Sotik", "Chepalungu", "Bomet East", "Bomet Central", "Konoin"] },
    County { code: 37, name: "Kakamega", sub_counties: &["Lugari", "Likuyani", "Malava", "Lurambi", "Navakholo", "Mumias West", "Mumias East", "Matungu", "Butere", "Khwisero", "Shinyalu", "Ikolomani"] },
    County { code: 38, name: "Vihiga", sub_counties: &["Vihiga", "Sabatia", "Hamisi", "Luanda", "Emuhaya"] },
    County { code: 39, name: "Bungoma", sub_counties: &["Mount Elgon", "Sirisia", "Kabuchai", "Bumula", "Kanduyi", "Webuye East", "Webuye West", "Kimilili", "Tongaren"] },
    County { code: 40, name: "Busia", sub_counties: &["Teso North", "Teso South", "Nambale", "Matayos", "Butula", "Funyula", "Budalangi"] },
    County { code: 41, name: "Siaya", sub_counties: &["Ugenya", "Ugunja", "Alego Usonga", "Gem", "Bondo", "Rarieda"] },
    County { code: 42, name: "Kisumu", sub_counties: &["Kisumu East", "Kisumu West", "Kisumu Central", "Seme", "Nyando", "Muhoroni", "Nyakach"] },
    County { code: 43, name: "Homa Bay", sub_counties: &["Kasipul", "Kabondo Kasipul", "Karachuonyo", "Rangwe", "Homa Bay Town", "Ndhiwa", "Suba North", "Suba South"] },
    County { code: 44, name: "Migori", sub_counties: &["Rongo", "Awendo", "Suna East", "Suna West", "Uriri", "Nyatike", "Kuria West", "Kuria East"] },
    County { code: 45, name: "Kisii", sub_counties: &["Bonchari", "South Mugirango", "Bomachoge Borabu", "Bobasi", "Bomachoge Chache", "Nyaribari Masaba", "Nyaribari Chache", "Kitutu Chache North", "Kitutu Chache South"] },
    County { code: 46, name: "Nyamira", sub_counties: &["Kitutu Masaba", "West Mugirango", "North Mugirango", "Borabu"] },
    County { code: 47, name: "Nairobi", sub_counties: &["Westlands", "Dagoretti North", "Dagoretti South", "Lang'ata", "Kibra", "Roysambu", "Kasarani", "Ruaraka", "Embakasi South", "Embakasi North", "Embakasi Central", "Embakasi East", "Embakasi West", "Makadara", "Kamukunji", "Starehe", "Mathare"] },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn there_are_47_counties_coded_1_to_47_in_order() {
        assert_eq!(COUNTIES.len(), 47);
        for (index, county) in COUNTIES.iter().enumerate() {
            assert_eq!(usize::from(county.code), index + 1, "{}", county.name);
        }
    }

    #[test]
    fn there_are_290_sub_counties_unique_within_each_county() {
        let total: usize = COUNTIES.iter().map(|c| c.sub_counties.len()).sum();
        assert_eq!(total, 290);
        for county in COUNTIES {
            let unique: HashSet<_> = county.sub_counties.iter().map(|s| fold(s)).collect();
            assert_eq!(unique.len(), county.sub_counties.len(), "{}", county.name);
        }
    }

    #[test]
    fn sub_county_lookup_is_per_county_and_forgiving_of_case() {
        assert!(has_sub_county(47, "kibra"));
        assert!(has_sub_county(47, "  Embakasi   East "));
        assert!(!has_sub_county(1, "Kibra"));
        assert!(!has_sub_county(48, "Kibra"));
    }
}
