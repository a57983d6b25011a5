//! Patients: identity, diagnosis, ward placement and contact details, each a parsed value.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::vitals::Spo2Scale;
use super::{FieldErrors, bounded_text};

macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, String> {
                bounded_text(value, $min, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_value!(
    /// A given or family name.
    PersonName, 1, 100
);
text_value!(
    /// The diagnosis in the clinician's words.
    Diagnosis, 1, 500
);
text_value!(
    /// The ward the patient is placed on, e.g. `ONC-1`.
    Ward, 1, 32
);
text_value!(
    /// A bed on the ward.
    Bed, 1, 16
);

/// The text inside, handed over without a copy (responses take ownership of what they show).
macro_rules! into_string {
    ($($name:ident),*) => {
        $(impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        })*
    };
}
into_string!(
    PersonName, Diagnosis, Ward, Bed, Mrn, Icd10Code, Phone, Email
);

/// Medical record number: 1-32 letters, digits and `-`, unique across the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mrn(String);

impl Mrn {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() || value.len() > 32 {
            return Err("must be 1 to 32 characters".to_owned());
        }
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("may contain only letters, digits and '-'".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A date of birth: a real calendar date, not in the future, not before 1900.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(NaiveDate);

impl BirthDate {
    pub fn parse(value: NaiveDate, today: NaiveDate) -> Result<Self, String> {
        if value > today {
            return Err("must not be in the future".to_owned());
        }
        if value < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
            return Err("must not be before 1900-01-01".to_owned());
        }
        Ok(Self(value))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}
pub(crate) use closed_set;

closed_set!(
    /// Administrative sex as recorded on admission.
    Sex { Female => "female", Male => "male", Other => "other", Unknown => "unknown" }
);
closed_set!(
    /// Whether the patient is on the ward.
    PatientStatus { Admitted => "admitted", Discharged => "discharged" }
);
closed_set!(
    /// How the patient wants to be told that something (e.g. a result) is ready.
    PreferredContact { Sms => "sms", Email => "email", None => "none" }
);

/// An ICD-10 code such as `C50.9`, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icd10Code(String);

impl Icd10Code {
    pub fn parse(value: &str) -> Result<Self, String> {
        let code = value.to_ascii_uppercase();
        let bytes = code.as_bytes();
        let head_ok = bytes.len() >= 3
            && bytes[0].is_ascii_uppercase()
            && bytes[0] != b'U'
            && bytes[1].is_ascii_digit()
            && bytes[2].is_ascii_alphanumeric();
        let tail_ok = match &code.get(3..) {
            Some("") => true,
            Some(rest) => {
                rest.starts_with('.')
                    && (2..=5).contains(&rest.len())
                    && rest[1..].chars().all(|c| c.is_ascii_alphanumeric())
            }
            None => false,
        };
        if head_ok && tail_ok {
            Ok(Self(code))
        } else {
            Err("must be an ICD-10 code such as C50.9".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(value: &str) -> Result<Self, String> {
        let digits = value.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be an E.164 number such as +441632960123".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: one `@`, a non-empty local part and a dotted domain, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = value.len() <= 254
            && match value.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
                }
                None => false,
            };
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be an e-mail address such as name@example.org".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A patient as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: Uuid,
    pub mrn: Mrn,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub birth_date: BirthDate,
    pub sex: Sex,
    pub diagnosis: Diagnosis,
    pub icd10_code: Option<Icd10Code>,
    pub ward: Ward,
    pub bed: Option<Bed>,
    pub status: PatientStatus,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub preferred_contact: PreferredContact,
    /// The settings the clinical rules read, changed only by physicians.
    pub clinical: ClinicalSettings,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Patient {
    /// The entity tag a client must send back in `If-Match` to change this version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// This patient with `changes` applied (version and timestamps are the store's business).
    pub fn with_changes(mut self, changes: PatientChanges) -> Self {
        let PatientChanges {
            mrn,
            first_name,
            last_name,
            birth_date,
            sex,
            diagnosis,
            icd10_code,
            ward,
            bed,
            status,
            phone,
            email,
            preferred_contact,
        } = changes;
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = $field { self.$field = v; })* };
        }
        set!(
            mrn,
            first_name,
            last_name,
            birth_date,
            sex,
            diagnosis,
            icd10_code,
            ward,
            bed,
            status,
            phone,
            email,
            preferred_contact
        );
        self
    }
}

/// Patient settings that change how the registry scores and alerts: the NEWS2 SpO2 scale (Scale 2
/// only for prescribed hypercapnic targets) and the date of the last systemic anticancer therapy
/// (which makes a fever with an unknown neutrophil count a possible febrile neutropenia).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClinicalSettings {
    pub spo2_scale: Spo2Scale,
    pub last_systemic_therapy_on: Option<NaiveDate>,
}

/// What charting a set needs to know of a patient: whether they are admitted, and the settings
/// the clinical rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicalState {
    pub id: Uuid,
    pub status: PatientStatus,
    pub clinical: ClinicalSettings,
}

impl From<&Patient> for ClinicalState {
    fn from(p: &Patient) -> Self {
        ClinicalState {
            id: p.id,
            status: p.status,
            clinical: p.clinical,
        }
    }
}

/// A validated change of the clinical settings: absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClinicalSettingsChange {
    pub spo2_scale: Option<Spo2Scale>,
    pub last_systemic_therapy_on: Option<Option<NaiveDate>>,
}

impl ClinicalSettingsChange {
    /// `spo2_scale` must be 1 or 2; a therapy date cannot lie in the future.
    pub fn parse(
        spo2_scale: Option<i64>,
        last_systemic_therapy_on: Option<Option<NaiveDate>>,
        today: NaiveDate,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let scale = spo2_scale.and_then(|v| {
            e.check(
                "spo2_scale",
                u8::try_from(v)
                    .ok()
                    .and_then(|v| Spo2Scale::try_from(v).ok())
                    .ok_or_else(|| "must be 1 or 2".to_owned()),
            )
        });
        if let Some(Some(date)) = last_systemic_therapy_on
            && date > today
        {
            e.push(
                "last_systemic_therapy_on",
                "must not be in the future: record therapy once it has been given",
            );
        }
        if e.is_empty() && spo2_scale.is_none() && last_systemic_therapy_on.is_none() {
            e.push("body", "must change at least one setting");
        }
        e.into_result(|| Self {
            spo2_scale: scale,
            last_systemic_therapy_on,
        })
    }

    pub fn apply(self, settings: ClinicalSettings) -> ClinicalSettings {
        ClinicalSettings {
            spo2_scale: self.spo2_scale.unwrap_or(settings.spo2_scale),
            last_systemic_therapy_on: self
                .last_systemic_therapy_on
                .unwrap_or(settings.last_systemic_therapy_on),
        }
    }
}

/// The raw fields of a patient as they arrive from a client, before parsing.
#[derive(Debug, Clone, Default)]
pub struct PatientInput<'a> {
    pub mrn: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub birth_date: Option<NaiveDate>,
    pub sex: &'a str,
    pub diagnosis: &'a str,
    pub icd10_code: Option<&'a str>,
    pub ward: &'a str,
    pub bed: Option<&'a str>,
    pub status: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub preferred_contact: Option<&'a str>,
}

/// A validated patient to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPatient {
    pub mrn: Mrn,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub birth_date: BirthDate,
    pub sex: Sex,
    pub diagnosis: Diagnosis,
    pub icd10_code: Option<Icd10Code>,
    pub ward: Ward,
    pub bed: Option<Bed>,
    pub status: PatientStatus,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub preferred_contact: PreferredContact,
}

fn optional<T>(
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    value.map(parse).transpose()
}

impl NewPatient {
    /// Parses every field, reporting all that are wrong.
    pub fn parse(input: PatientInput<'_>, today: NaiveDate) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let mrn = e.check("mrn", Mrn::parse(input.mrn));
        let first_name = e.check("first_name", PersonName::parse(input.first_name));
        let last_name = e.check("last_name", PersonName::parse(input.last_name));
        let birth_date = e.check(
            "birth_date",
            input
                .birth_date
                .ok_or_else(|| "is required".to_owned())
                .and_then(|d| BirthDate::parse(d, today)),
        );
        let sex = e.check("sex", input.sex.parse::<Sex>());
        let diagnosis = e.check("diagnosis", Diagnosis::parse(input.diagnosis));
        let icd10_code = e.check("icd10_code", optional(input.icd10_code, Icd10Code::parse));
        let ward = e.check("ward", Ward::parse(input.ward));
        let bed = e.check("bed", optional(input.bed, Bed::parse));
        let status = e.check(
            "status",
            optional(input.status, str::parse::<PatientStatus>)
                .map(|s| s.unwrap_or(PatientStatus::Admitted)),
        );
        let phone = e.check("phone", optional(input.phone, Phone::parse));
        let email = e.check("email", optional(input.email, Email::parse));
        let preferred_contact = e.check(
            "preferred_contact",
            optional(input.preferred_contact, str::parse::<PreferredContact>)
                .map(|p| p.unwrap_or(PreferredContact::None)),
        );
        if !e.is_empty() {
            return Err(e);
        }
        // Every `check` above succeeded, so each value is present.
        Ok(Self {
            mrn: mrn.expect("checked"),
            first_name: first_name.expect("checked"),
            last_name: last_name.expect("checked"),
            birth_date: birth_date.expect("checked"),
            sex: sex.expect("checked"),
            diagnosis: diagnosis.expect("checked"),
            icd10_code: icd10_code.expect("checked"),
            ward: ward.expect("checked"),
            bed: bed.expect("checked"),
            status: status.expect("checked"),
            phone: phone.expect("checked"),
            email: email.expect("checked"),
            preferred_contact: preferred_contact.expect("checked"),
        })
    }
}

/// A field of a partial update: absent (leave it), or a new value, which for optional fields may
/// be `null` to clear it.
pub type Change<T> = Option<T>;

/// A validated partial update of a patient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientChanges {
    pub mrn: Change<Mrn>,
    pub first_name: Change<PersonName>,
    pub last_name: Change<PersonName>,
    pub birth_date: Change<BirthDate>,
    pub sex: Change<Sex>,
    pub diagnosis: Change<Diagnosis>,
    pub icd10_code: Change<Option<Icd10Code>>,
    pub ward: Change<Ward>,
    pub bed: Change<Option<Bed>>,
    pub status: Change<PatientStatus>,
    pub phone: Change<Option<Phone>>,
    pub email: Change<Option<Email>>,
    pub preferred_contact: Change<PreferredContact>,
}

/// The raw fields of a partial update; the outer `Option` is "present", the inner one "null".
#[derive(Debug, Clone, Default)]
pub struct PatientChangesInput<'a> {
    pub mrn: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<&'a str>,
    pub diagnosis: Option<&'a str>,
    pub icd10_code: Option<Option<&'a str>>,
    pub ward: Option<&'a str>,
    pub bed: Option<Option<&'a str>>,
    pub status: Option<&'a str>,
    pub phone: Option<Option<&'a str>>,
    pub email: Option<Option<&'a str>>,
    pub preferred_contact: Option<&'a str>,
}

impl PatientChanges {
    pub fn parse(input: PatientChangesInput<'_>, today: NaiveDate) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        fn present<T>(
            e: &mut FieldErrors,
            field: &str,
            value: Option<&str>,
            parse: impl Fn(&str) -> Result<T, String>,
        ) -> Option<T> {
            value.and_then(|v| e.check(field, parse(v)))
        }
        fn clearable<T>(
            e: &mut FieldErrors,
            field: &str,
            value: Option<Option<&str>>,
            parse: impl Fn(&str) -> Result<T, String>,
        ) -> Option<Option<T>> {
            match value {
                None => None,
                Some(None) => Some(None),
                Some(Some(v)) => e.check(field, parse(v)).map(Some),
            }
        }
        let changes = PatientChanges {
            mrn: present(&mut e, "mrn", input.mrn, Mrn::parse),
            first_name: present(&mut e, "first_name", input.first_name, PersonName::parse),
            last_name: present(&mut e, "last_name", input.last_name, PersonName::parse),
            birth_date: input
                .birth_date
                .and_then(|d| e.check("birth_date", BirthDate::parse(d, today))),
            sex: present(&mut e, "sex", input.sex, str::parse),
            diagnosis: present(&mut e, "diagnosis", input.diagnosis, Diagnosis::parse),
            icd10_code: clearable(&mut e, "icd10_code", input.icd10_code, Icd10Code::parse),
            ward: present(&mut e, "ward", input.ward, Ward::parse),
            bed: clearable(&mut e, "bed", input.bed, Bed::parse),
            status: present(&mut e, "status", input.status, str::parse),
            phone: clearable(&mut e, "phone", input.phone, Phone::parse),
            email: clearable(&mut e, "email", input.email, Email::parse),
            preferred_contact: present(
                &mut e,
                "preferred_contact",
                input.preferred_contact,
                str::parse,
            ),
        };
        if !e.is_empty() {
            return Err(e);
        }
        if changes == PatientChanges::default() {
            e.push("body", "must change at least one field");
            return Err(e);
        }
        Ok(changes)
    }
}

/// A valid admitted patient for the unit tests of other modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn patient() -> Patient {
        let new = NewPatient::parse(tests::valid_input(), tests::today()).unwrap();
        Patient {
            id: Uuid::nil(),
            mrn: new.mrn,
            first_name: new.first_name,
            last_name: new.last_name,
            birth_date: new.birth_date,
            sex: new.sex,
            diagnosis: new.diagnosis,
            icd10_code: new.icd10_code,
            ward: new.ward,
            bed: new.bed,
            status: new.status,
            phone: new.phone,
            email: new.email,
            preferred_contact: new.preferred_contact,
            clinical: ClinicalSettings::default(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    pub(super) fn valid_input() -> PatientInput<'static> {
        PatientInput {
            mrn: "MRN-0001",
            first_name: "Ada",
            last_name: "Lovelace",
            birth_date: NaiveDate::from_ymd_opt(1960, 5, 1),
            sex: "female",
            diagnosis: "Invasive ductal carcinoma, left breast",
            icd10_code: Some("c50.9"),
            ward: "ONC-1",
            bed: Some("12"),
            status: None,
            phone: Some("+441632960123"),
            email: Some("ada@example.org"),
            preferred_contact: Some("sms"),
        }
    }

    #[test]
    fn a_valid_patient_parses_with_defaults_and_normalised_code() {
        let p = NewPatient::parse(valid_input(), today()).unwrap();
        assert_eq!(p.icd10_code.unwrap().as_str(), "C50.9");
        assert_eq!(p.status, PatientStatus::Admitted);
        assert_eq!(p.preferred_contact, PreferredContact::Sms);
    }

    #[test]
    fn every_bad_field_is_reported_by_name() {
        let input = PatientInput {
            mrn: "MRN 1",
            first_name: "",
            birth_date: NaiveDate::from_ymd_opt(2027, 1, 1),
            sex: "f",
            icd10_code: Some("50.9"),
            phone: Some("01632 960123"),
            email: Some("ada@"),
            preferred_contact: Some("pager"),
            ..valid_input()
        };
        let err = NewPatient::parse(input, today()).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "mrn",
                "first_name",
                "birth_date",
                "sex",
                "icd10_code",
                "phone",
                "email",
                "preferred_contact"
            ]
        );
    }

    #[test]
    fn mrn_rules() {
        assert!(Mrn::parse("A").is_ok());
        assert!(Mrn::parse(&"9".repeat(32)).is_ok());
        assert!(Mrn::parse(&"9".repeat(33)).is_err());
        assert!(Mrn::parse("").is_err());
        assert!(Mrn::parse("AB_12").is_err());
        assert!(Mrn::parse("ÄB12").is_err());
    }

    #[test]
    fn birth_date_today_is_allowed_tomorrow_is_not() {
        assert!(BirthDate::parse(today(), today()).is_ok());
        assert!(BirthDate::parse(today().succ_opt().unwrap(), today()).is_err());
        assert!(BirthDate::parse(NaiveDate::from_ymd_opt(1899, 12, 31).unwrap(), today()).is_err());
    }

    #[test]
    fn icd10_codes() {
        for ok in ["C50.9", "C50", "c34.11", "D70", "Z51.1", "C91.00"] {
            assert!(Icd10Code::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "C5", "C50.", "C50.12345", "U07.1", "5C0.9", "C50-9"] {
            assert!(Icd10Code::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_e164() {
        assert!(Phone::parse("+441632960123").is_ok());
        assert!(Phone::parse("+12025550123").is_ok());
        assert!(Phone::parse("441632960123").is_err());
        assert!(Phone::parse("+0441632960").is_err());
        assert!(Phone::parse("+1234567").is_err());
        assert!(Phone::parse("+1234567890123456").is_err());
        assert!(Phone::parse("+44 1632 960123").is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("nurse@ward.example.org").is_ok());
        for bad in [
            "",
            "a@b",
            "@example.org",
            "a@@example.org",
            "a b@example.org",
            "a@.org",
            "a@example..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_can_clear_optional_fields_and_must_not_be_empty() {
        let changes = PatientChanges::parse(
            PatientChangesInput {
                bed: Some(None),
                status: Some("discharged"),
                ..Default::default()
            },
            today(),
        )
        .unwrap();
        assert_eq!(changes.bed, Some(None));
        assert_eq!(changes.status, Some(PatientStatus::Discharged));
        assert!(PatientChanges::parse(PatientChangesInput::default(), today()).is_err());
        let err = PatientChanges::parse(
            PatientChangesInput {
                phone: Some(Some("123")),
                ..Default::default()
            },
            today(),
        )
        .unwrap_err();
        assert_eq!(err.0[0].field, "phone");
    }

    #[test]
    fn clinical_settings_parse_and_apply() {
        let change = ClinicalSettingsChange::parse(Some(2), None, today()).unwrap();
        let applied = change.apply(ClinicalSettings::default());
        assert_eq!(applied.spo2_scale, Spo2Scale::Two);
        assert_eq!(applied.last_systemic_therapy_on, None);
        let err = ClinicalSettingsChange::parse(Some(3), None, today()).unwrap_err();
        assert_eq!(err.0[0].field, "spo2_scale");
        let err =
            ClinicalSettingsChange::parse(None, Some(today().succ_opt()), today()).unwrap_err();
        assert_eq!(err.0[0].field, "last_systemic_therapy_on");
        let err = ClinicalSettingsChange::parse(None, None, today()).unwrap_err();
        assert_eq!(err.0[0].field, "body");
        let cleared = ClinicalSettingsChange::parse(None, Some(None), today())
            .unwrap()
            .apply(ClinicalSettings {
                spo2_scale: Spo2Scale::Two,
                last_systemic_therapy_on: Some(today()),
            });
        assert_eq!(cleared.spo2_scale, Spo2Scale::Two);
        assert_eq!(cleared.last_systemic_therapy_on, None);
    }

    #[test]
    fn applying_changes_touches_only_the_given_fields() {
        let patient = tests_support::patient();
        let changed = patient.clone().with_changes(PatientChanges {
            ward: Some(Ward::parse("ONC-2").unwrap()),
            bed: Some(None),
            ..Default::default()
        });
        assert_eq!(changed.ward.as_str(), "ONC-2");
        assert_eq!(changed.bed, None);
        assert_eq!(changed.mrn, patient.mrn);
        assert_eq!(changed.etag(), "\"1\"");
    }
}
