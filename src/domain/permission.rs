//! The one permission table: which role may perform which operation. Deny unless listed.

use std::fmt;

use super::user::Role;

/// Everything a signed-in user can ask the registry to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ReadOwnProfile,
    ManageUsers,
    ReadAuditLog,
    CreatePatient,
    ReadPatient,
    UpdatePatient,
    DeletePatient,
    /// Change the patient settings the clinical rules use (SpO2 scale, last systemic therapy).
    ChangeClinicalSettings,
    /// Record, correct and import vital signs.
    RecordVitalSigns,
    /// Read vital signs, their insights and the ward overview.
    ReadVitalSigns,
    RecordLabResult,
    ReadLabResults,
    ReadAlerts,
    /// Acknowledge and resolve alerts.
    HandleAlerts,
    /// Upload ECG recordings.
    RecordEcg,
    /// Read ECG recordings, their signals and insights.
    ReadEcgs,
    /// Soft-delete an ECG recording.
    DeleteEcg,
    /// Read the exam catalog.
    ReadExamTypes,
    /// Add, rename and deactivate exam types.
    ManageExamTypes,
    /// Order an exam for an admitted patient.
    OrderExam,
    /// Read exams and their results.
    ReadExams,
    /// Start an exam (and receive its exam token).
    PerformExam,
    /// Revoke an exam before it finishes.
    RevokeExam,
    /// Submit an exam's result (exam token + result token).
    SubmitExamResult,
    /// Read patient notifications.
    ReadNotifications,
    /// Retry a notification whose delivery failed.
    RetryNotification,
    /// Read what became of the files dropped in the results inbox.
    ReadResultsInbox,
}

impl Operation {
    pub const ALL: [Operation; 27] = [
        Operation::ReadOwnProfile,
        Operation::ManageUsers,
        Operation::ReadAuditLog,
        Operation::CreatePatient,
        Operation::ReadPatient,
        Operation::UpdatePatient,
        Operation::DeletePatient,
        Operation::ChangeClinicalSettings,
        Operation::RecordVitalSigns,
        Operation::ReadVitalSigns,
        Operation::RecordLabResult,
        Operation::ReadLabResults,
        Operation::ReadAlerts,
        Operation::HandleAlerts,
        Operation::RecordEcg,
        Operation::ReadEcgs,
        Operation::DeleteEcg,
        Operation::ReadExamTypes,
        Operation::ManageExamTypes,
        Operation::OrderExam,
        Operation::ReadExams,
        Operation::PerformExam,
        Operation::RevokeExam,
        Operation::SubmitExamResult,
        Operation::ReadNotifications,
        Operation::RetryNotification,
        Operation::ReadResultsInbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ReadOwnProfile => "read_own_profile",
            Operation::ManageUsers => "manage_users",
            Operation::ReadAuditLog => "read_audit_log",
            Operation::CreatePatient => "create_patient",
            Operation::ReadPatient => "read_patient",
            Operation::UpdatePatient => "update_patient",
            Operation::DeletePatient => "delete_patient",
            Operation::ChangeClinicalSettings => "change_clinical_settings",
            Operation::RecordVitalSigns => "record_vital_signs",
            Operation::ReadVitalSigns => "read_vital_signs",
            Operation::RecordLabResult => "record_lab_result",
            Operation::ReadLabResults => "read_lab_results",
            Operation::ReadAlerts => "read_alerts",
            Operation::HandleAlerts => "handle_alerts",
            Operation::RecordEcg => "record_ecg",
            Operation::ReadEcgs => "read_ecgs",
            Operation::DeleteEcg => "delete_ecg",
            Operation::ReadExamTypes => "read_exam_types",
            Operation::ManageExamTypes => "manage_exam_types",
            Operation::OrderExam => "order_exam",
            Operation::ReadExams => "read_exams",
            Operation::PerformExam => "perform_exam",
            Operation::RevokeExam => "revoke_exam",
            Operation::SubmitExamResult => "submit_exam_result",
            Operation::ReadNotifications => "read_notifications",
            Operation::RetryNotification => "retry_notification",
            Operation::ReadResultsInbox => "read_results_inbox",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role x operation table. Administrators are deliberately absent from every patient
/// operation: they run accounts and audits, and never see charts.
pub fn is_allowed(role: Role, operation: Operation) -> bool {
    use Operation::*;
    use Role::*;
    match operation {
        ReadOwnProfile => true,
        ManageUsers | ReadAuditLog => role == Admin,
        CreatePatient | UpdatePatient => matches!(role, Physician | Nurse),
        ReadPatient => matches!(role, Physician | Nurse | Technician),
        DeletePatient | ChangeClinicalSettings => role == Physician,
        // Observations, labs and alerts are the bedside team's: technicians perform exams and
        // need the patient's identity, not the chart.
        RecordVitalSigns | ReadVitalSigns | RecordLabResult | ReadLabResults | ReadAlerts
        | HandleAlerts => matches!(role, Physician | Nurse),
        // ECGs are recorded by whoever performs the exam, technicians included; only a
        // physician may withdraw one.
        RecordEcg | ReadEcgs => matches!(role, Physician | Nurse | Technician),
        DeleteEcg => role == Physician,
        // The catalog holds no patient data: everyone reads it, administrators keep it.
        ReadExamTypes => true,
        ManageExamTypes => role == Admin,
        // Physicians order and withdraw exams, technicians perform them; either may hand in
        // the result the exam execution system signed.
        OrderExam | RevokeExam => role == Physician,
        ReadExams => matches!(role, Physician | Nurse | Technician),
        PerformExam => role == Technician,
        SubmitExamResult => matches!(role, Physician | Technician),
        // Notifications show who could not be reached: the bedside team's follow-up.
        ReadNotifications | RetryNotification => matches!(role, Physician | Nurse),
        // The inbox is where results that did not arrive are chased: the physicians who
        // ordered them and the technicians who performed them. Its entries name patients and
        // exams, so not administrators.
        ReadResultsInbox => matches!(role, Physician | Technician),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_ward_policy() {
        use Operation::*;
        use Role::*;
        let expected: &[(Role, &[Operation])] = &[
            (
                Admin,
                &[
                    ReadOwnProfile,
                    ManageUsers,
                    ReadAuditLog,
                    ReadExamTypes,
                    ManageExamTypes,
                ],
            ),
            (
                Physician,
                &[
                    ReadOwnProfile,
                    CreatePatient,
                    ReadPatient,
                    UpdatePatient,
                    DeletePatient,
                    ChangeClinicalSettings,
                    RecordVitalSigns,
                    ReadVitalSigns,
                    RecordLabResult,
                    ReadLabResults,
                    ReadAlerts,
                    HandleAlerts,
                    RecordEcg,
                    ReadEcgs,
                    DeleteEcg,
                    ReadExamTypes,
                    OrderExam,
                    ReadExams,
                    RevokeExam,
                    SubmitExamResult,
                    ReadNotifications,
                    RetryNotification,
                    ReadResultsInbox,
                ],
            ),
            (
                Nurse,
                &[
                    ReadOwnProfile,
                    CreatePatient,
                    ReadPatient,
                    UpdatePatient,
                    RecordVitalSigns,
                    ReadVitalSigns,
                    RecordLabResult,
                    ReadLabResults,
                    ReadAlerts,
                    HandleAlerts,
                    RecordEcg,
                    ReadEcgs,
                    ReadExamTypes,
                    ReadExams,
                    ReadNotifications,
                    RetryNotification,
                ],
            ),
            (
                Technician,
                &[
                    ReadOwnProfile,
                    ReadPatient,
                    RecordEcg,
                    ReadEcgs,
                    ReadExamTypes,
                    ReadExams,
                    PerformExam,
                    SubmitExamResult,
                    ReadResultsInbox,
                ],
            ),
        ];
        for (role, allowed) in expected {
            for op in Operation::ALL {
                assert_eq!(
                    is_allowed(*role, op),
                    allowed.contains(&op),
                    "{role} x {op}"
                );
            }
        }
    }
}
