//! `--shard K/N`: a stable hash partition of the customer IDs, so several
//! machines (a Kubernetes Indexed Job) can split one export. The same ID
//! always lands in the same shard, whatever the input order or machine.

use std::fmt;

use crate::error::UsageError;

/// FNV-1a, 64 bits: stable across platforms, Rust versions and runs
/// (unlike `std`'s randomised hasher).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parse `K/N` (0 ≤ K < N). `/N` takes K from `JOB_COMPLETION_INDEX`
    /// (looked up through `env`), as a Kubernetes Indexed Job sets it.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, UsageError> {
        let bad = |why: String| UsageError::invalid(format!("--shard {spec:?}: {why}"));
        let (k, n) = spec.split_once('/').ok_or_else(|| {
            bad("expected K/N, e.g. 0/4 (or /4 with JOB_COMPLETION_INDEX set)".into())
        })?;
        let count: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(format!("{n:?} is not a shard count of 1 or more")))?;
        let k = if k.trim().is_empty() {
            env("JOB_COMPLETION_INDEX")
                .ok_or_else(|| bad("no K given and JOB_COMPLETION_INDEX is not set".into()))?
        } else {
            k.to_string()
        };
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| bad(format!("{k:?} is not a shard index")))?;
        if index >= count {
            return Err(bad(format!(
                "the index must be below the count (shards are numbered 0 to {})",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether `customer_id` belongs to this shard.
    pub fn contains(&self, customer_id: &str) -> bool {
        fnv1a(customer_id.as_bytes()) % self.count as u64 == self.index as u64
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reads_the_job_index() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse("1/4", none).unwrap(),
            Shard { index: 1, count: 4 }
        );
        let env = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(
            Shard::parse("/4", env).unwrap(),
            Shard { index: 3, count: 4 }
        );
        for bad in ["4/4", "x/4", "1/0", "1", "/4"] {
            assert!(Shard::parse(bad, none).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_ids_exactly() {
        let ids: Vec<String> = (0..5000).map(|i| format!("customer-{i}")).collect();
        let count = 7;
        let mut seen = vec![0; ids.len()];
        for index in 0..count {
            let shard = Shard { index, count };
            for (i, id) in ids.iter().enumerate() {
                if shard.contains(id) {
                    seen[i] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Roughly balanced.
        let first = ids
            .iter()
            .filter(|id| Shard { index: 0, count }.contains(id))
            .count();
        assert!((600..830).contains(&first), "{first}");
    }
}
