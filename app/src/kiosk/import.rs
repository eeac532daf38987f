//! Importing an enrolment from JSON: pre-registration data, and the way tests drive the store.
//!
//! The format is documented in `docs/enrolment-json.md`; images are referenced by path,
//! relative to the JSON file. Every problem is reported at once: each unreadable image and
//! each broken rule, each naming its field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Date;

use crate::biometrics::{self, Image, ImageRole};
use crate::form::{
    Application, Consent, Demographics, FingerException, FingerPosition, FingerStatus, Language,
    PhotoOverride, Staff, validate,
};
use crate::record::{Enrolment, FingerCapture, FingerRecord};

/// The JSON document `sajili enrol --json` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The form.
    pub demographics: Demographics,
    /// Consent as given.
    pub consent: Consent,
    /// Operator and supervisor.
    pub staff: Staff,
    /// Path of the face photo (JPEG).
    pub photo: PathBuf,
    /// The ten fingers.
    pub fingerprints: Vec<FingerSource>,
    /// The photo's failed checks and why they were overridden (assisted, hospital only).
    #[serde(default)]
    pub photo_override: Option<PhotoOverride>,
}

/// One finger in the JSON: an image path or an exception, not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerSource {
    /// Which finger.
    pub position: FingerPosition,
    /// Path of its print (8-bit grey PNG).
    #[serde(default)]
    pub image: Option<PathBuf>,
    /// Why there is no print.
    #[serde(default)]
    pub exception: Option<FingerException>,
}

/// One problem with the input, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The field, e.g. `photo` or `names.surname`.
    pub field: String,
    /// In English.
    pub english: String,
    /// In Kiswahili.
    pub kiswahili: String,
}

/// Why an import was refused. Nothing was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum ImportError {
    /// The JSON file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON of the enrolment's shape.
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said, with line and column.
        detail: String,
    },
    /// Images or rules failed: every problem.
    Invalid(Vec<InputProblem>),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Json { path, detail } => {
                write!(f, "{} is not a valid enrolment: {detail}", path.display())
            }
            Self::Invalid(problems) => {
                writeln!(
                    f,
                    "{} problem(s) / matatizo {}:",
                    problems.len(),
                    problems.len()
                )?;
                for problem in problems {
                    writeln!(
                        f,
                        "  {}: {} / {}",
                        problem.field, problem.english, problem.kiswahili
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImportError {}

fn file_problem(field: &str, path: &Path, english: impl fmt::Display) -> InputProblem {
    InputProblem {
        field: field.to_string(),
        english: format!("{}: {english}", path.display()),
        kiswahili: format!("faili {} haikubaliki: {english}", path.display()),
    }
}

fn load_image(
    base: &Path,
    relative: &Path,
    role: ImageRole,
    field: &str,
    problems: &mut Vec<InputProblem>,
) -> Option<Image> {
    let path = base.join(relative);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            problems.push(file_problem(field, &path, error));
            return None;
        }
    };
    match biometrics::check(bytes, role) {
        Ok(image) => Some(image),
        Err(error) => {
            problems.push(file_problem(field, &path, error));
            None
        }
    }
}

/// Reads the enrolment at `json_path`, loads and checks its images, and validates it as of
/// `capture_date`. Returns the enrolment ready to seal, or every problem found.
pub fn load(json_path: &Path, capture_date: Date) -> Result<Enrolment, ImportError> {
    let json = std::fs::read(json_path).map_err(|source| ImportError::Read {
        path: json_path.to_path_buf(),
        source,
    })?;
    let request: ImportRequest =
        serde_json::from_slice(&json).map_err(|error| ImportError::Json {
            path: json_path.to_path_buf(),
            detail: error.to_string(),
        })?;
    let base = json_path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();

    let photo = load_image(
        base,
        &request.photo,
        ImageRole::FacePhoto,
        "photo",
        &mut problems,
    );
    let mut fingerprints = Vec::new();
    let mut statuses = Vec::new();
    for source in &request.fingerprints {
        let field = format!("fingerprints.{}", source.position.name());
        match (&source.image, source.exception) {
            (Some(path), None) => {
                statuses.push((source.position, FingerStatus::Captured));
                if let Some(image) =
                    load_image(base, path, ImageRole::Fingerprint, &field, &mut problems)
                {
                    fingerprints.push(FingerRecord {
                        position: source.position,
                        capture: FingerCapture::Image(image),
                    });
                }
            }
            (None, Some(reason)) => {
                statuses.push((source.position, FingerStatus::Exception(reason)));
                fingerprints.push(FingerRecord {
                    position: source.position,
                    capture: FingerCapture::Exception(reason),
                });
            }
            _ => {
                // Counted as captured so the rules do not also call it missing.
                statuses.push((source.position, FingerStatus::Captured));
                problems.push(InputProblem {
                    field,
                    english: "give either an image or an exception".into(),
                    kiswahili: "toa picha au sababu ya kukosa picha, si vyote viwili".into(),
                });
            }
        }
    }

    let application = Application {
        demographics: &request.demographics,
        consent: &request.consent,
        staff: &request.staff,
        fingers: &statuses,
        photo_override: request.photo_override.as_ref(),
    };
    if let Err(found) = validate(&application, capture_date) {
        problems.extend(found.0.into_iter().map(|problem| InputProblem {
            english: problem.message(Language::English),
            kiswahili: problem.message(Language::Kiswahili),
            field: problem.field,
        }));
    }
    match photo {
        Some(photo) if problems.is_empty() => {
            let mut enrolment = Enrolment {
                demographics: request.demographics,
                consent: request.consent,
                staff: request.staff,
                photo,
                fingerprints,
                photo_override: request.photo_override,
                document_photo: None,
            };
            // The file's supervisor approves what the file holds; an approval the file
            // carries itself must match it, which sealing checks.
            if enrolment.staff.supervisor.is_some() && enrolment.staff.approval.is_none() {
                enrolment.staff.approval = Some(enrolment.approval_digest());
            }
            Ok(enrolment)
        }
        _ => Err(ImportError::Invalid(problems)),
    }
}
