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
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::ReadOwnProfile,
        Operation::ManageUsers,
        Operation::ReadAuditLog,
        Operation::CreatePatient,
        Operation::ReadPatient,
        Operation::UpdatePatient,
        Operation::DeletePatient,
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
        DeletePatient => role == Physician,
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
            (Admin, &[ReadOwnProfile, ManageUsers, ReadAuditLog]),
            (
                Physician,
                &[
                    ReadOwnProfile,
                    CreatePatient,
                    ReadPatient,
                    UpdatePatient,
                    DeletePatient,
                ],
            ),
            (
                Nurse,
                &[ReadOwnProfile, CreatePatient, ReadPatient, UpdatePatient],
            ),
            (Technician, &[ReadOwnProfile, ReadPatient]),
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
