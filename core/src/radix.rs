//! Radix sorts of packed 64-bit keys (a hash above, an item index below):
//! linear time where a comparison sort of millions of keys is not.

/// Sorts bucket keys by their top 40 bits; equal keys keep their order, so
/// items stay in index order within a bucket.
pub(crate) fn radix_sort_keys(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    radix_sort_bits(keys, scratch, 24, 40);
}

/// Radix sort on `bits` bits from bit `from` up: linear time, which a
/// comparison sort of millions of keys is not. Bits below `from` are not
/// compared: every caller keeps an item index there, increasing in input
/// order, and keys agreeing on the sorted bits keep that order. Bits above
/// the sorted ones are zero.
///
/// A large array's top bits first scatter its keys into partitions of
/// about `PARTITION` keys, a few kilobytes each; then each partition is
/// sorted on its own, least significant digit first, while it sits in the
/// fastest cache. A plain least-significant-digit sort moves the whole
/// array once a digit, and once the array outgrows the cache every one of
/// those moves waits on memory.
pub(crate) fn radix_sort_bits(keys: &mut Vec<u64>, scratch: &mut Vec<u64>, from: u32, bits: u32) {
    const PARTITION: usize = 1024;
    // Fewer keys than this (two megabytes, a core's share of the cache on
    // a typical server) stay in the cache through every pass:
    // partitioning them first would only add work.
    const IN_CACHE: usize = 1 << 18;
    let n = keys.len();
    // Every slot is written before it is read; only new length is zeroed.
    scratch.truncate(n);
    scratch.resize(n, 0);
    let top = if n < IN_CACHE {
        0
    } else {
        (usize::BITS - (n / PARTITION).leading_zeros()).min(bits).min(MAX_DIGIT)
    };
    let mut counts = Vec::new();
    if top == 0 {
        sort_partition(keys, scratch, from, bits, &mut counts);
        return;
    }
    let shift = from + bits - top;
    let partition = |k: u64| (k >> shift) as usize & ((1 << top) - 1);
    let mut ends = vec![0usize; 1 << top];
    for &k in keys.iter() {
        ends[partition(k)] += 1;
    }
    let mut next = Vec::with_capacity(ends.len());
    let mut offset = 0;
    for end in ends.iter_mut() {
        next.push(offset);
        offset += *end;
        *end = offset;
    }
    for &k in keys.iter() {
        let p = partition(k);
        scratch[next[p]] = k;
        next[p] += 1;
    }
    // The partitions are in `scratch`; `keys` is free to serve as the
    // buffer each partition is sorted through.
    let mut start = 0;
    for end in ends {
        sort_partition(
            &mut scratch[start..end],
            &mut keys[start..end],
            from,
            bits - top,
            &mut counts,
        );
        start = end;
    }
    std::mem::swap(keys, scratch);
}

/// Widest digit `radix_sort_bits` sorts on in one pass.
const MAX_DIGIT: u32 = 10;

/// Sorts `keys` (see `radix_sort_bits`) through `buffer`, of the same
/// length, in passes of at most `MAX_DIGIT` bits.
fn sort_partition(
    keys: &mut [u64],
    buffer: &mut [u64],
    from: u32,
    bits: u32,
    counts: &mut Vec<[u32; 1 << MAX_DIGIT]>,
) {
    // Below this a comparison sort wins: its cost is not a table per pass.
    // Comparing whole keys orders equal sorted bits by the index below
    // them, as a stable sort would.
    const SMALL: usize = 64;
    if keys.len() <= SMALL || bits == 0 {
        keys.sort_unstable();
        return;
    }
    let passes = bits.div_ceil(MAX_DIGIT) as usize;
    let width = bits.div_ceil(passes as u32);
    // A digit is at most `MAX_DIGIT` bits, which the mask makes plain to
    // the compiler: no bounds check in the loops below.
    let digit = |k: u64, pass: usize| {
        (k >> (from + pass as u32 * width)) as usize & ((1 << width) - 1) & ((1 << MAX_DIGIT) - 1)
    };
    // One read counts every digit; then each pass moves the keys once.
    counts.clear();
    counts.resize(passes, [0; 1 << MAX_DIGIT]);
    for &k in keys.iter() {
        for (pass, table) in counts.iter_mut().enumerate() {
            table[digit(k, pass)] += 1;
        }
    }
    let (mut src, mut dst) = (keys, buffer);
    for (pass, next) in counts.iter_mut().enumerate() {
        let mut offset = 0;
        for slot in &mut next[..1 << width] {
            let count = *slot;
            *slot = offset;
            offset += count;
        }
        for &k in src.iter() {
            let d = digit(k, pass);
            dst[next[d] as usize] = k;
            next[d] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    // After an odd number of passes the sorted keys are in the buffer.
    if passes % 2 == 1 {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::INDEX_MASK;

    #[test]
    fn radix_sort_agrees_with_a_comparison_sort() {
        // Sizes on both sides of a partition and of the comparison-sort
        // cutoff; narrow hash ranges make long runs of equal sorted bits,
        // whose indices must stay in input order.
        let mut rng = crate::rng::Rng::new(11);
        for (n, from, bits, range) in [
            (0, 32, 30, 1 << 30),
            (1, 32, 30, 1 << 30),
            (60, 32, 30, 3),
            (900, 32, 30, 1 << 30),
            (5_000, 32, 30, 40),
            (300_000, 32, 30, 1 << 30),
            (300_000, 24, 40, 1 << 40),
            (3_000, 0, 48, 1 << 48),
        ] {
            let mut keys: Vec<u64> = (0..n as u64)
                .map(|i| (rng.below(range) as u64) << from | (i & INDEX_MASK))
                .collect();
            if from == 0 {
                keys.iter_mut().for_each(|k| *k = rng.below(range) as u64);
            }
            let mut expected = keys.clone();
            expected.sort_by_key(|k| k >> from);
            radix_sort_bits(&mut keys, &mut Vec::new(), from, bits);
            assert_eq!(keys, expected, "{n} keys, bits {from}..{}", from + bits);
        }
    }
}
