//! The NIIMS enrolment form: its schema, the rules it must pass, and the master data.

mod counties;
mod countries;
mod formats;
mod mrz;
mod problems;
mod rules;
mod schema;

pub use counties::{COUNTIES, County, county, has_sub_county};
pub use countries::{COUNTRIES, Country, country, search as search_countries};
pub use formats::Format;
pub use mrz::{
    LENGTH as MRZ_LENGTH, MrzError, MrzPart, check as check_mrz, check_digit as mrz_check_digit,
};
pub use problems::{Language, Problem, ProblemKind, Problems};
pub use rules::{
    AGE_OF_MAJORITY, Application, FingerStatus, MINIMUM_AGE, RETURN_WITHIN_DAYS, age_on,
    check_centre, validate,
};
pub use schema::*;
