//! Master data: the countries of ISO 3166-1, by their alpha-3 codes.
//!
//! The current officially assigned codes (249), each with its short English name; the
//! countries Kenya's foreign residents and refugees most often come from also carry their
//! Kiswahili name. Withdrawn and reserved codes are left out on purpose: a nationality or a
//! place of birth is checked against this list, so a typo that happens to be three capitals
//! (`UGN`) is refused instead of sealed. Sorted by code, the order [`country`] searches in.

/// One country of ISO 3166-1.
#[derive(Debug)]
pub struct Country {
    /// Alpha-3 code, e.g. `UGA`.
    pub code: &'static str,
    /// Short English name.
    pub name: &'static str,
    /// Kiswahili name, where the kiosk has one (English is shown otherwise).
    pub name_sw: Option<&'static str>,
}

impl Country {
    /// Its name in `language`: Kiswahili where known, else English.
    pub fn name_in(&self, language: super::Language) -> &'static str {
        match language {
            super::Language::Kiswahili => self.name_sw.unwrap_or(self.name),
            super::Language::English => self.name,
        }
    }
}

/// Looks up a country by its alpha-3 code (capitals, exactly as the standard writes it).
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES
        .binary_search_by(|c| c.code.cmp(code))
        .ok()
        .and_then(|index| COUNTRIES.get(index))
}

/// Countries whose code or name (English or Kiswahili) holds `typed`, ignoring case and
/// accents' absence: what a person sees while typing into the list.
pub fn search(typed: &str) -> impl Iterator<Item = &'static Country> + '_ {
    let wanted = typed.trim().to_lowercase();
    COUNTRIES.iter().filter(move |c| {
        wanted.is_empty()
            || c.code.to_lowercase().starts_with(&wanted)
            || c.name.to_lowercase().contains(&wanted)
            || c.name_sw
                .is_some_and(|n| n.to_lowercase().contains(&wanted))
    })
}

/// Every current ISO 3166-1 country, sorted by alpha-3 code.
pub static COUNTRIES: &[Country] = &[
    Country {
        code: "ABW",
        name: "Aruba",
        name_sw: None,
    },
    Country {
        code: "AFG",
        name: "Afghanistan",
        name_sw: None,
    },
    Country {
        code: "AGO",
        name: "Angola",
        name_sw: None,
    },
    Country {
        code: "AIA",
        name: "Anguilla",
        name_sw: None,
    },
    Country {
        code: "ALA",
        name: "Åland Islands",
        name_sw: None,
    },
    Country {
        code: "ALB",
        name: "Albania",
        name_sw: None,
    },
    Country {
        code: "AND",
        name: "Andorra",
        name_sw: None,
    },
    Country {
        code: "ARE",
        name: "United Arab Emirates",
        name_sw: None,
    },
    Country {
        code: "ARG",
        name: "Argentina",
        name_sw: None,
    },
    Country {
        code: "ARM",
        name: "Armenia",
        name_sw: None,
    },
    Country {
        code: "ASM",
        name: "American Samoa",
        name_sw: None,
    },
    Country {
        code: "ATA",
        name: "Antarctica",
        name_sw: None,
    },
    Country {
        code: "ATF",
        name: "French Southern Territories",
        name_sw: None,
    },
    Country {
        code: "ATG",
        name: "Antigua and Barbuda",
        name_sw: None,
    },
    Country {
        code: "AUS",
        name: "Australia",
        name_sw: None,
    },
    Country {
        code: "AUT",
        name: "Austria",
        name_sw: None,
    },
    Country {
        code: "AZE",
        name: "Azerbaijan",
        name_sw: None,
    },
    Country {
        code: "BDI",
        name: "Burundi",
        name_sw: Some("Burundi"),
    },
    Country {
        code: "BEL",
        name: "Belgium",
        name_sw: None,
    },
    Country {
        code: "BEN",
        name: "Benin",
        name_sw: None,
    },
    Country {
        code: "BES",
        name: "Bonaire, Sint Eustatius and Saba",
        name_sw: None,
    },
    Country {
        code: "BFA",
        name: "Burkina Faso",
        name_sw: None,
    },
    Country {
        code: "BGD",
        name: "Bangladesh",
        name_sw: None,
    },
    Country {
        code: "BGR",
        name: "Bulgaria",
        name_sw: None,
    },
    Country {
        code: "BHR",
        name: "Bahrain",
        name_sw: None,
    },
    Country {
        code: "BHS",
        name: "Bahamas",
        name_sw: None,
    },
    Country {
        code: "BIH",
        name: "Bosnia and Herzegovina",
        name_sw: None,
    },
    Country {
        code: "BLM",
        name: "Saint Barthélemy",
        name_sw: None,
    },
    Country {
        code: "BLR",
        name: "Belarus",
        name_sw: None,
    },
    Country {
        code: "BLZ",
        name: "Belize",
        name_sw: None,
    },
    Country {
        code: "BMU",
        name: "Bermuda",
        name_sw: None,
    },
    Country {
        code: "BOL",
        name: "Bolivia",
        name_sw: None,
    },
    Country {
        code: "BRA",
        name: "Brazil",
        name_sw: None,
    },
    Country {
        code: "BRB",
        name: "Barbados",
        name_sw: None,
    },
    Country {
        code: "BRN",
        name: "Brunei Darussalam",
        name_sw: None,
    },
    Country {
        code: "BTN",
        name: "Bhutan",
        name_sw: None,
    },
    Country {
        code: "BVT",
        name: "Bouvet Island",
        name_sw: None,
    },
    Country {
        code: "BWA",
        name: "Botswana",
        name_sw: None,
    },
    Country {
        code: "CAF",
        name: "Central African Republic",
        name_sw: Some("Jamhuri ya Afrika ya Kati"),
    },
    Country {
        code: "CAN",
        name: "Canada",
        name_sw: None,
    },
    Country {
        code: "CCK",
        name: "Cocos (Keeling) Islands",
        name_sw: None,
    },
    Country {
        code: "CHE",
        name: "Switzerland",
        name_sw: None,
    },
    Country {
        code: "CHL",
        name: "Chile",
        name_sw: None,
    },
    Country {
        code: "CHN",
        name: "China",
        name_sw: Some("China"),
    },
    Country {
        code: "CIV",
        name: "Côte d'Ivoire",
        name_sw: None,
    },
    Country {
        code: "CMR",
        name: "Cameroon",
        name_sw: None,
    },
    Country {
        code: "COD",
        name: "Congo, Democratic Republic of the",
        name_sw: Some("Jamhuri ya Kidemokrasia ya Kongo"),
    },
    Country {
        code: "COG",
        name: "Congo",
        name_sw: Some("Kongo"),
    },
    Country {
        code: "COK",
        name: "Cook Islands",
        name_sw: None,
    },
    Country {
        code: "COL",
        name: "Colombia",
        name_sw: None,
    },
    Country {
        code: "COM",
        name: "Comoros",
        name_sw: Some("Komoro"),
    },
    Country {
        code: "CPV",
        name: "Cabo Verde",
        name_sw: None,
    },
    Country {
        code: "CRI",
        name: "Costa Rica",
        name_sw: None,
    },
    Country {
        code: "CUB",
        name: "Cuba",
        name_sw: None,
    },
    Country {
        code: "CUW",
        name: "Curaçao",
        name_sw: None,
    },
    Country {
        code: "CXR",
        name: "Christmas Island",
        name_sw: None,
    },
    Country {
        code: "CYM",
        name: "Cayman Islands",
        name_sw: None,
    },
    Country {
        code: "CYP",
        name: "Cyprus",
        name_sw: None,
    },
    Country {
        code: "CZE",
        name: "Czechia",
        name_sw: None,
    },
    Country {
        code: "DEU",
        name: "Germany",
        name_sw: Some("Ujerumani"),
    },
    Country {
        code: "DJI",
        name: "Djibouti",
        name_sw: Some("Jibuti"),
    },
    Country {
        code: "DMA",
        name: "Dominica",
        name_sw: None,
    },
    Country {
        code: "DNK",
        name: "Denmark",
        name_sw: None,
    },
    Country {
        code: "DOM",
        name: "Dominican Republic",
        name_sw: None,
    },
    Country {
        code: "DZA",
        name: "Algeria",
        name_sw: None,
    },
    Country {
        code: "ECU",
        name: "Ecuador",
        name_sw: None,
    },
    Country {
        code: "EGY",
        name: "Egypt",
        name_sw: Some("Misri"),
    },
    Country {
        code: "ERI",
        name: "Eritrea",
        name_sw: Some("Eritrea"),
    },
    Country {
        code: "ESH",
        name: "Western Sahara",
        name_sw: None,
    },
    Country {
        code: "ESP",
        name: "Spain",
        name_sw: None,
    },
    Country {
        code: "EST",
        name: "Estonia",
        name_sw: None,
    },
    Country {
        code: "ETH",
        name: "Ethiopia",
        name_sw: Some("Ethiopia"),
    },
    Country {
        code: "FIN",
        name: "Finland",
        name_sw: None,
    },
    Country {
        code: "FJI",
        name: "Fiji",
        name_sw: None,
    },
    Country {
        code: "FLK",
        name: "Falkland Islands (Malvinas)",
        name_sw: None,
    },
    Country {
        code: "FRA",
        name: "France",
        name_sw: Some("Ufaransa"),
    },
    Country {
        code: "FRO",
        name: "Faroe Islands",
        name_sw: None,
    },
    Country {
        code: "FSM",
        name: "Micronesia",
        name_sw: None,
    },
    Country {
        code: "GAB",
        name: "Gabon",
        name_sw: None,
    },
    Country {
        code: "GBR",
        name: "United Kingdom",
        name_sw: Some("Uingereza"),
    },
    Country {
        code: "GEO",
        name: "Georgia",
        name_sw: None,
    },
    Country {
        code: "GGY",
        name: "Guernsey",
        name_sw: None,
    },
    Country {
        code: "GHA",
        name: "Ghana",
        name_sw: None,
    },
    Country {
        code: "GIB",
        name: "Gibraltar",
        name_sw: None,
    },
    Country {
        code: "GIN",
        name: "Guinea",
        name_sw: None,
    },
    Country {
        code: "GLP",
        name: "Guadeloupe",
        name_sw: None,
    },
    Country {
        code: "GMB",
        name: "Gambia",
        name_sw: None,
    },
    Country {
        code: "GNB",
        name: "Guinea-Bissau",
        name_sw: None,
    },
    Country {
        code: "GNQ",
        name: "Equatorial Guinea",
        name_sw: None,
    },
    Country {
        code: "GRC",
        name: "Greece",
        name_sw: None,
    },
    Country {
        code: "GRD",
        name: "Grenada",
        name_sw: None,
    },
    Country {
        code: "GRL",
        name: "Greenland",
        name_sw: None,
    },
    Country {
        code: "GTM",
        name: "Guatemala",
        name_sw: None,
    },
    Country {
        code: "GUF",
        name: "French Guiana",
        name_sw: None,
    },
    Country {
        code: "GUM",
        name: "Guam",
        name_sw: None,
    },
    Country {
        code: "GUY",
        name: "Guyana",
        name_sw: None,
    },
    Country {
        code: "HKG",
        name: "Hong Kong",
        name_sw: None,
    },
    Country {
        code: "HMD",
        name: "Heard Island and McDonald Islands",
        name_sw: None,
    },
    Country {
        code: "HND",
        name: "Honduras",
        name_sw: None,
    },
    Country {
        code: "HRV",
        name: "Croatia",
        name_sw: None,
    },
    Country {
        code: "HTI",
        name: "Haiti",
        name_sw: None,
    },
    Country {
        code: "HUN",
        name: "Hungary",
        name_sw: None,
    },
    Country {
        code: "IDN",
        name: "Indonesia",
        name_sw: None,
    },
    Country {
        code: "IMN",
        name: "Isle of Man",
        name_sw: None,
    },
    Country {
        code: "IND",
        name: "India",
        name_sw: Some("India"),
    },
    Country {
        code: "IOT",
        name: "British Indian Ocean Territory",
        name_sw: None,
    },
    Country {
        code: "IRL",
        name: "Ireland",
        name_sw: None,
    },
    Country {
        code: "IRN",
        name: "Iran",
        name_sw: None,
    },
    Country {
        code: "IRQ",
        name: "Iraq",
        name_sw: None,
    },
    Country {
        code: "ISL",
        name: "Iceland",
        name_sw: None,
    },
    Country {
        code: "ISR",
        name: "Israel",
        name_sw: None,
    },
    Country {
        code: "ITA",
        name: "Italy",
        name_sw: Some("Italia"),
    },
    Country {
        code: "JAM",
        name: "Jamaica",
        name_sw: None,
    },
    Country {
        code: "JEY",
        name: "Jersey",
        name_sw: None,
    },
    Country {
        code: "JOR",
        name: "Jordan",
        name_sw: None,
    },
    Country {
        code: "JPN",
        name: "Japan",
        name_sw: None,
    },
    Country {
        code: "KAZ",
        name: "Kazakhstan",
        name_sw: None,
    },
    Country {
        code: "KEN",
        name: "Kenya",
        name_sw: Some("Kenya"),
    },
    Country {
        code: "KGZ",
        name: "Kyrgyzstan",
        name_sw: None,
    },
    Country {
        code: "KHM",
        name: "Cambodia",
        name_sw: None,
    },
    Country {
        code: "KIR",
        name: "Kiribati",
        name_sw: None,
    },
    Country {
        code: "KNA",
        name: "Saint Kitts and Nevis",
        name_sw: None,
    },
    Country {
        code: "KOR",
        name: "Korea, Republic of",
        name_sw: None,
    },
    Country {
        code: "KWT",
        name: "Kuwait",
        name_sw: None,
    },
    Country {
        code: "LAO",
        name: "Lao People's Democratic Republic",
        name_sw: None,
    },
    Country {
        code: "LBN",
        name: "Lebanon",
        name_sw: None,
    },
    Country {
        code: "LBR",
        name: "Liberia",
        name_sw: None,
    },
    Country {
        code: "LBY",
        name: "Libya",
        name_sw: None,
    },
    Country {
        code: "LCA",
        name: "Saint Lucia",
        name_sw: None,
    },
    Country {
        code: "LIE",
        name: "Liechtenstein",
        name_sw: None,
    },
    Country {
        code: "LKA",
        name: "Sri Lanka",
        name_sw: None,
    },
    Country {
        code: "LSO",
        name: "Lesotho",
        name_sw: None,
    },
    Country {
        code: "LTU",
        name: "Lithuania",
        name_sw: None,
    },
    Country {
        code: "LUX",
        name: "Luxembourg",
        name_sw: None,
    },
    Country {
        code: "LVA",
        name: "Latvia",
        name_sw: None,
    },
    Country {
        code: "MAC",
        name: "Macao",
        name_sw: None,
    },
    Country {
        code: "MAF",
        name: "Saint Martin (French part)",
        name_sw: None,
    },
    Country {
        code: "MAR",
        name: "Morocco",
        name_sw: None,
    },
    Country {
        code: "MCO",
        name: "Monaco",
        name_sw: None,
    },
    Country {
        code: "MDA",
        name: "Moldova",
        name_sw: None,
    },
    Country {
        code: "MDG",
        name: "Madagascar",
        name_sw: None,
    },
    Country {
        code: "MDV",
        name: "Maldives",
        name_sw: None,
    },
    Country {
        code: "MEX",
        name: "Mexico",
        name_sw: None,
    },
    Country {
        code: "MHL",
        name: "Marshall Islands",
        name_sw: None,
    },
    Country {
        code: "MKD",
        name: "North Macedonia",
        name_sw: None,
    },
    Country {
        code: "MLI",
        name: "Mali",
        name_sw: None,
    },
    Country {
        code: "MLT",
        name: "Malta",
        name_sw: None,
    },
    Country {
        code: "MMR",
        name: "Myanmar",
        name_sw: None,
    },
    Country {
        code: "MNE",
        name: "Montenegro",
        name_sw: None,
    },
    Country {
        code: "MNG",
        name: "Mongolia",
        name_sw: None,
    },
    Country {
        code: "MNP",
        name: "Northern Mariana Islands",
        name_sw: None,
    },
    Country {
        code: "MOZ",
        name: "Mozambique",
        name_sw: Some("Msumbiji"),
    },
    Country {
        code: "MRT",
        name: "Mauritania",
        name_sw: None,
    },
    Country {
        code: "MSR",
        name: "Montserrat",
        name_sw: None,
    },
    Country {
        code: "MTQ",
        name: "Martinique",
        name_sw: None,
    },
    Country {
        code: "MUS",
        name: "Mauritius",
        name_sw: None,
    },
    Country {
        code: "MWI",
        name: "Malawi",
        name_sw: Some("Malawi"),
    },
    Country {
        code: "MYS",
        name: "Malaysia",
        name_sw: None,
    },
    Country {
        code: "MYT",
        name: "Mayotte",
        name_sw: None,
    },
    Country {
        code: "NAM",
        name: "Namibia",
        name_sw: None,
    },
    Country {
        code: "NCL",
        name: "New Caledonia",
        name_sw: None,
    },
    Country {
        code: "NER",
        name: "Niger",
        name_sw: None,
    },
    Country {
        code: "NFK",
        name: "Norfolk Island",
        name_sw: None,
    },
    Country {
        code: "NGA",
        name: "Nigeria",
        name_sw: None,
    },
    Country {
        code: "NIC",
        name: "Nicaragua",
        name_sw: None,
    },
    Country {
        code: "NIU",
        name: "Niue",
        name_sw: None,
    },
    Country {
        code: "NLD",
        name: "Netherlands",
        name_sw: Some("Uholanzi"),
    },
    Country {
        code: "NOR",
        name: "Norway",
        name_sw: None,
    },
    Country {
        code: "NPL",
        name: "Nepal",
        name_sw: None,
    },
    Country {
        code: "NRU",
        name: "Nauru",
        name_sw: None,
    },
    Country {
        code: "NZL",
        name: "New Zealand",
        name_sw: None,
    },
    Country {
        code: "OMN",
        name: "Oman",
        name_sw: None,
    },
    Country {
        code: "PAK",
        name: "Pakistan",
        name_sw: Some("Pakistan"),
    },
    Country {
        code: "PAN",
        name: "Panama",
        name_sw: None,
    },
    Country {
        code: "PCN",
        name: "Pitcairn",
        name_sw: None,
    },
    Country {
        code: "PER",
        name: "Peru",
        name_sw: None,
    },
    Country {
        code: "PHL",
        name: "Philippines",
        name_sw: None,
    },
    Country {
        code: "PLW",
        name: "Palau",
        name_sw: None,
    },
    Country {
        code: "PNG",
        name: "Papua New Guinea",
        name_sw: None,
    },
    Country {
        code: "POL",
        name: "Poland",
        name_sw: None,
    },
    Country {
        code: "PRI",
        name: "Puerto Rico",
        name_sw: None,
    },
    Country {
        code: "PRK",
        name: "Korea, Democratic People's Republic of",
        name_sw: None,
    },
    Country {
        code: "PRT",
        name: "Portugal",
        name_sw: None,
    },
    Country {
        code: "PRY",
        name: "Paraguay",
        name_sw: None,
    },
    Country {
        code: "PSE",
        name: "Palestine, State of",
        name_sw: None,
    },
    Country {
        code: "PYF",
        name: "French Polynesia",
        name_sw: None,
    },
    Country {
        code: "QAT",
        name: "Qatar",
        name_sw: None,
    },
    Country {
        code: "REU",
        name: "Réunion",
        name_sw: None,
    },
    Country {
        code: "ROU",
        name: "Romania",
        name_sw: None,
    },
    Country {
        code: "RUS",
        name: "Russian Federation",
        name_sw: None,
    },
    Country {
        code: "RWA",
        name: "Rwanda",
        name_sw: Some("Rwanda"),
    },
    Country {
        code: "SAU",
        name: "Saudi Arabia",
        name_sw: None,
    },
    Country {
        code: "SDN",
        name: "Sudan",
        name_sw: Some("Sudan"),
    },
    Country {
        code: "SEN",
        name: "Senegal",
        name_sw: None,
    },
    Country {
        code: "SGP",
        name: "Singapore",
        name_sw: None,
    },
    Country {
        code: "SGS",
        name: "South Georgia and the South Sandwich Islands",
        name_sw: None,
    },
    Country {
        code: "SHN",
        name: "Saint Helena, Ascension and Tristan da Cunha",
        name_sw: None,
    },
    Country {
        code: "SJM",
        name: "Svalbard and Jan Mayen",
        name_sw: None,
    },
    Country {
        code: "SLB",
        name: "Solomon Islands",
        name_sw: None,
    },
    Country {
        code: "SLE",
        name: "Sierra Leone",
        name_sw: None,
    },
    Country {
        code: "SLV",
        name: "El Salvador",
        name_sw: None,
    },
    Country {
        code: "SMR",
        name: "San Marino",
        name_sw: None,
    },
    Country {
        code: "SOM",
        name: "Somalia",
        name_sw: Some("Somalia"),
    },
    Country {
        code: "SPM",
        name: "Saint Pierre and Miquelon",
        name_sw: None,
    },
    Country {
        code: "SRB",
        name: "Serbia",
        name_sw: None,
    },
    Country {
        code: "SSD",
        name: "South Sudan",
        name_sw: Some("Sudan Kusini"),
    },
    Country {
        code: "STP",
        name: "Sao Tome and Principe",
        name_sw: None,
    },
    Country {
        code: "SUR",
        name: "Suriname",
        name_sw: None,
    },
    Country {
        code: "SVK",
        name: "Slovakia",
        name_sw: None,
    },
    Country {
        code: "SVN",
        name: "Slovenia",
        name_sw: None,
    },
    Country {
        code: "SWE",
        name: "Sweden",
        name_sw: None,
    },
    Country {
        code: "SWZ",
        name: "Eswatini",
        name_sw: None,
    },
    Country {
        code: "SXM",
        name: "Sint Maarten (Dutch part)",
        name_sw: None,
    },
    Country {
        code: "SYC",
        name: "Seychelles",
        name_sw: None,
    },
    Country {
        code: "SYR",
        name: "Syrian Arab Republic",
        name_sw: None,
    },
    Country {
        code: "TCA",
        name: "Turks and Caicos Islands",
        name_sw: None,
    },
    Country {
        code: "TCD",
        name: "Chad",
        name_sw: None,
    },
    Country {
        code: "TGO",
        name: "Togo",
        name_sw: None,
    },
    Country {
        code: "THA",
        name: "Thailand",
        name_sw: None,
    },
    Country {
        code: "TJK",
        name: "Tajikistan",
        name_sw: None,
    },
    Country {
        code: "TKL",
        name: "Tokelau",
        name_sw: None,
    },
    Country {
        code: "TKM",
        name: "Turkmenistan",
        name_sw: None,
    },
    Country {
        code: "TLS",
        name: "Timor-Leste",
        name_sw: None,
    },
    Country {
        code: "TON",
        name: "Tonga",
        name_sw: None,
    },
    Country {
        code: "TTO",
        name: "Trinidad and Tobago",
        name_sw: None,
    },
    Country {
        code: "TUN",
        name: "Tunisia",
        name_sw: None,
    },
    Country {
        code: "TUR",
        name: "Türkiye",
        name_sw: None,
    },
    Country {
        code: "TUV",
        name: "Tuvalu",
        name_sw: None,
    },
    Country {
        code: "TWN",
        name: "Taiwan",
        name_sw: None,
    },
    Country {
        code: "TZA",
        name: "Tanzania",
        name_sw: Some("Tanzania"),
    },
    Country {
        code: "UGA",
        name: "Uganda",
        name_sw: Some("Uganda"),
    },
    Country {
        code: "UKR",
        name: "Ukraine",
        name_sw: None,
    },
    Country {
        code: "UMI",
        name: "United States Minor Outlying Islands",
        name_sw: None,
    },
    Country {
        code: "URY",
        name: "Uruguay",
        name_sw: None,
    },
    Country {
        code: "USA",
        name: "United States of America",
        name_sw: Some("Marekani"),
    },
    Country {
        code: "UZB",
        name: "Uzbekistan",
        name_sw: None,
    },
    Country {
        code: "VAT",
        name: "Holy See",
        name_sw: None,
    },
    Country {
        code: "VCT",
        name: "Saint Vincent and the Grenadines",
        name_sw: None,
    },
    Country {
        code: "VEN",
        name: "Venezuela",
        name_sw: None,
    },
    Country {
        code: "VGB",
        name: "Virgin Islands (British)",
        name_sw: None,
    },
    Country {
        code: "VIR",
        name: "Virgin Islands (U.S.)",
        name_sw: None,
    },
    Country {
        code: "VNM",
        name: "Viet Nam",
        name_sw: None,
    },
    Country {
        code: "VUT",
        name: "Vanuatu",
        name_sw: None,
    },
    Country {
        code: "WLF",
        name: "Wallis and Futuna",
        name_sw: None,
    },
    Country {
        code: "WSM",
        name: "Samoa",
        name_sw: None,
    },
    Country {
        code: "YEM",
        name: "Yemen",
        name_sw: Some("Yemen"),
    },
    Country {
        code: "ZAF",
        name: "South Africa",
        name_sw: Some("Afrika Kusini"),
    },
    Country {
        code: "ZMB",
        name: "Zambia",
        name_sw: Some("Zambia"),
    },
    Country {
        code: "ZWE",
        name: "Zimbabwe",
        name_sw: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_unique_and_complete() {
        assert_eq!(COUNTRIES.len(), 249, "ISO 3166-1 assigns 249 codes");
        for pair in COUNTRIES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} {}",
                pair[0].code,
                pair[1].code
            );
        }
        for c in COUNTRIES {
            assert!(
                c.code.len() == 3 && c.code.bytes().all(|b| b.is_ascii_uppercase()),
                "{}",
                c.code
            );
        }
    }

    #[test]
    fn codes_are_found_and_look_alikes_are_not() {
        assert_eq!(country("UGA").map(|c| c.name), Some("Uganda"));
        assert_eq!(country("SSD").map(|c| c.name), Some("South Sudan"));
        assert!(country("UGN").is_none(), "three capitals, but no country");
        assert!(country("uga").is_none(), "codes are capitals");
        assert!(country("YUG").is_none(), "withdrawn (Yugoslavia)");
        assert!(country("").is_none());
    }

    #[test]
    fn typing_part_of_a_name_finds_it_in_either_language() {
        let found: Vec<_> = search("somal").map(|c| c.code).collect();
        assert_eq!(found, ["SOM"]);
        let found: Vec<_> = search("ujerumani").map(|c| c.code).collect();
        assert_eq!(found, ["DEU"]);
        assert!(search("SSD").any(|c| c.code == "SSD"));
        assert_eq!(search("").count(), COUNTRIES.len());
    }
}
