//! Password hashing with argon2id, always off the async runtime's worker threads.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use super::ServiceError;
use crate::domain::user::Password;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP_MINIMUM: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    pub fn meets_owasp_minimum(&self) -> bool {
        self.memory_kib >= Self::OWASP_MINIMUM.memory_kib
            && self.iterations >= Self::OWASP_MINIMUM.iterations
            && self.parallelism >= 1
    }

    fn hasher(&self) -> Result<Argon2<'static>, ServiceError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(ServiceError::internal)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    cost: HashCost,
    /// Hashes running at once. Each takes `memory_kib` of memory; unbounded, a burst of
    /// sign-ins (valid or not) could take gigabytes. Waiting callers queue here instead.
    slots: Arc<Semaphore>,
    /// A hash of a random password, verified against when the username is unknown so that an
    /// unknown user costs the same time as a wrong password.
    decoy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> Self {
        let parallel = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            cost,
            slots: Arc::new(Semaphore::new(parallel)),
            decoy: Arc::new(OnceCell::new()),
        }
    }

    pub async fn hash(&self, password: &Password) -> Result<String, ServiceError> {
        let hasher = self.cost.hasher()?;
        let secret = password.expose().as_bytes().to_vec();
        let _slot = self.slots.acquire().await.map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(move || {
            hasher
                .hash_password(&secret)
                .map(|h| h.to_string())
                .map_err(ServiceError::internal)
        })
        .await
        .map_err(ServiceError::internal)?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same effort on the
    /// decoy and answers false.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, ServiceError> {
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.decoy().await?, false),
        };
        let secret = password.as_bytes().to_vec();
        let _slot = self.slots.acquire().await.map_err(ServiceError::internal)?;
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(ServiceError::internal)?;
            Ok::<_, ServiceError>(Argon2::default().verify_password(&secret, &parsed).is_ok())
        })
        .await
        .map_err(ServiceError::internal)??;
        Ok(matches && real)
    }

    async fn decoy(&self) -> Result<String, ServiceError> {
        self.decoy
            .get_or_try_init(|| async {
                let mut random = [0_u8; 24];
                getrandom::fill(&mut random).map_err(ServiceError::internal)?;
                let decoy = Password::parse(&super::tokens::encode_bytes(&random))
                    .map_err(ServiceError::Internal)?;
                self.hash(&decoy).await
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = PasswordHasher::new(CHEAP);
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"));
        assert!(
            hasher
                .verify("correct horse battery", Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse battery", Some(hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
    }

    #[test]
    fn owasp_minimum_is_enforced() {
        assert!(HashCost::OWASP_MINIMUM.meets_owasp_minimum());
        assert!(!CHEAP.meets_owasp_minimum());
    }
}
