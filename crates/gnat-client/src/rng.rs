//! Randomness without the `rand` crate: a small PRNG and unique ids.
//!
//! [`Rng`] is xoshiro256** seeded from the operating system (via `ring`'s
//! `SystemRandom`), mixed with a std `RandomState` hash, the clock, the thread
//! and a process-wide counter, so two generators never start alike even if one
//! source fails. It is for shuffling the server pool, reconnect jitter and ids:
//! it is **not** a cryptographic generator.
//!
//! [`nuid`] returns 22-character base62 ids in the style of NATS NUIDs (a
//! random 12-character prefix and a 10-character sequence that advances by a
//! random step), used for inbox subjects and similar names.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

/// Counts every seeding in the process so no two generators share a seed.
static SEED_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fast non-cryptographic pseudo-random generator (xoshiro256**).
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator with a fresh, unpredictable seed.
    pub fn new() -> Rng {
        Rng::from_seed(fresh_seed())
    }

    /// A generator with a fixed seed (for reproducible tests).
    pub fn from_seed(seed: u64) -> Rng {
        let mut sm = seed;
        let mut state = [0u64; 4];
        for word in &mut state {
            *word = splitmix64(&mut sm);
        }
        // The all-zero state is the one xoshiro cannot leave; splitmix64 never
        // yields four zeros in a row, but be explicit.
        if state == [0; 4] {
            state[0] = 0x9e37_79b9_7f4a_7c15;
        }
        Rng { state }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform number in `0..n` (without modulo bias); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-and-shift with rejection of the biased low range.
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Shuffles `items` uniformly (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A uniform duration in `0..=max` (nanosecond resolution, capped at ~584 years).
    pub fn jitter(&mut self, max: Duration) -> Duration {
        let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        let nanos = match max_nanos.checked_add(1) {
            Some(bound) => self.below(bound),
            None => self.next_u64(),
        };
        Duration::from_nanos(nanos)
    }
}

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Mixes every entropy source at hand into one 64-bit seed.
fn fresh_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let mut os = [0u8; 8];
    if SystemRandom::new().fill(&mut os).is_ok() {
        hasher.write(&os);
    }
    hasher.write_u64(SEED_COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(since_epoch) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    hasher.write_u32(std::process::id());
    hasher.write(format!("{:?}", std::thread::current().id()).as_bytes());
    let local = 0u8;
    hasher.write_usize(std::ptr::addr_of!(local).addr());
    hasher.finish() ^ u64::from_le_bytes(os)
}

// ---------------------------------------------------------------------------
// NUID
// ---------------------------------------------------------------------------

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 12;
const SEQ_LEN: usize = 10;
/// 62^10: sequences are 10 base62 digits.
const MAX_SEQ: u64 = 839_299_365_868_340_224;
const MIN_INCREMENT: u64 = 33;
const MAX_INCREMENT: u64 = 333;

/// Length of a [`nuid`].
pub const NUID_LEN: usize = PREFIX_LEN + SEQ_LEN;

/// A NUID generator: random prefix, sequence with a random step.
struct Nuid {
    rng: Rng,
    prefix: [u8; PREFIX_LEN],
    seq: u64,
    increment: u64,
}

impl Nuid {
    fn new() -> Nuid {
        let mut nuid = Nuid {
            rng: Rng::new(),
            prefix: [0; PREFIX_LEN],
            seq: 0,
            increment: 0,
        };
        nuid.reset();
        nuid
    }

    /// New prefix (from the OS when possible), new sequence start and step.
    fn reset(&mut self) {
        let mut entropy = [0u8; PREFIX_LEN * 8];
        let os_ok = SystemRandom::new().fill(&mut entropy).is_ok();
        for (i, byte) in self.prefix.iter_mut().enumerate() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&entropy[i * 8..i * 8 + 8]);
            // With OS bytes, reduce them (bias < 2^-57); always mix in the PRNG too.
            let os = if os_ok {
                u64::from_le_bytes(word) % 62
            } else {
                0
            };
            let index = (os + self.rng.below(62)) % 62;
            *byte = BASE62[index as usize];
        }
        self.seq = self.rng.below(MAX_SEQ);
        self.increment = MIN_INCREMENT + self.rng.below(MAX_INCREMENT - MIN_INCREMENT);
    }

    fn next(&mut self) -> String {
        self.seq += self.increment;
        if self.seq >= MAX_SEQ {
            self.reset();
        }
        let mut out = [0u8; NUID_LEN];
        out[..PREFIX_LEN].copy_from_slice(&self.prefix);
        let mut seq = self.seq;
        for slot in out[PREFIX_LEN..].iter_mut().rev() {
            *slot = BASE62[(seq % 62) as usize];
            seq /= 62;
        }
        out.iter().map(|&b| char::from(b)).collect()
    }
}

thread_local! {
    static NUID: RefCell<Nuid> = RefCell::new(Nuid::new());
}

/// A 22-character base62 (`0-9A-Za-z`) unique id, e.g. for inbox subjects.
///
/// Each thread has its own generator with a random 12-character prefix
/// (about 71 bits) and a 10-character sequence that grows by a random step
/// of 33..333; when the sequence runs out the prefix is renewed. Ids are unique
/// within and across processes with overwhelming probability, and not guessable
/// from one another beyond the shared prefix (they are not secrets).
pub fn nuid() -> String {
    NUID.with(|nuid| nuid.borrow_mut().next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn xoshiro_reference_sequence() {
        // xoshiro256** from the state [1, 2, 3, 4] (the reference C code's outputs).
        let mut rng = Rng {
            state: [1, 2, 3, 4],
        };
        let got: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn seeded_is_reproducible_and_fresh_differs() {
        let a: Vec<u64> = {
            let mut r = Rng::from_seed(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::from_seed(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let firsts: HashSet<u64> = (0..1000).map(|_| Rng::new().next_u64()).collect();
        assert_eq!(firsts.len(), 1000);
        let other = std::thread::spawn(|| Rng::default().next_u64())
            .join()
            .unwrap();
        assert!(!firsts.contains(&other));
    }

    #[test]
    fn below_is_in_range_and_uniform() {
        let mut rng = Rng::from_seed(42);
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
        const BUCKETS: usize = 10;
        const DRAWS: usize = 100_000;
        let mut counts = [0usize; BUCKETS];
        for _ in 0..DRAWS {
            counts[rng.below(BUCKETS as u64) as usize] += 1;
        }
        // Chi-square with 9 degrees of freedom: 27.9 is the 0.1% critical value.
        let expected = (DRAWS / BUCKETS) as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.9, "chi2 {chi2} counts {counts:?}");
        // Huge bounds stay in range.
        for _ in 0..1000 {
            assert!(rng.below(u64::MAX - 1) < u64::MAX - 1);
            assert!(rng.below(3) < 3);
        }
        // Bits are balanced.
        let ones: u32 = (0..10_000).map(|_| rng.next_u64().count_ones()).sum();
        let mean = f64::from(ones) / 10_000.0;
        assert!((mean - 32.0).abs() < 0.2, "mean popcount {mean}");
    }

    #[test]
    fn shuffle_is_a_permutation_and_varies() {
        let mut rng = Rng::from_seed(3);
        let mut items: Vec<u32> = (0..50).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted);
        rng.shuffle::<u8>(&mut []);
        rng.shuffle(&mut [1]);
        // Every position of a 3-element shuffle sees every element.
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let mut v = [0, 1, 2];
            rng.shuffle(&mut v);
            seen.insert(v);
        }
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn jitter_bounds() {
        let mut rng = Rng::from_seed(9);
        assert_eq!(rng.jitter(Duration::ZERO), Duration::ZERO);
        let max = Duration::from_millis(250);
        let mut total = Duration::ZERO;
        for _ in 0..10_000 {
            let j = rng.jitter(max);
            assert!(j <= max);
            total += j;
        }
        let mean = total / 10_000;
        assert!(
            mean > Duration::from_millis(115) && mean < Duration::from_millis(135),
            "{mean:?}"
        );
        assert!(rng.jitter(Duration::MAX) <= Duration::MAX);
    }

    #[test]
    fn nuid_shape_and_uniqueness() {
        let ids: Vec<String> = (0..100_000).map(|_| nuid()).collect();
        for id in &ids {
            assert_eq!(id.len(), NUID_LEN);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        // Another thread has another prefix.
        let other = std::thread::spawn(nuid).join().unwrap();
        assert_ne!(other[..PREFIX_LEN], ids[0][..PREFIX_LEN]);
        assert!(!unique.contains(&other));
    }

    #[test]
    fn nuid_rolls_over() {
        let mut n = Nuid::new();
        n.seq = MAX_SEQ - 1;
        let before = n.prefix;
        let id = n.next();
        assert_ne!(n.prefix, before);
        assert!(n.seq < MAX_SEQ);
        assert_eq!(id.len(), NUID_LEN);
        assert_eq!(&id.as_bytes()[..PREFIX_LEN], &n.prefix);
    }
}
