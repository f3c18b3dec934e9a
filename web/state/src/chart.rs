//! An outcome chart's layout: a metric's sessions placed by the store
//! version they ran under, one band per version, sessions equally spaced
//! within it (so a day of many sessions and a month of few both read), a
//! version without sessions shown as such, and the line broken between
//! versions. Positions are fractions of the plot's width (0 to 1) and
//! values as measured; the screen scales them.

use reverie_api::{Marker, PassMark};

/// A store version's stretch of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// The version in effect.
    pub version: i64,
    /// What made it (`proposal`, `rollback`, `entries`, …); `None` for the
    /// version already in effect when the window opens.
    pub cause: Option<String>,
    /// Where it starts and ends.
    pub from: f64,
    /// Where it ends.
    pub to: f64,
    /// Sessions under it.
    pub sessions: usize,
}

/// A session's value, placed.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Across the plot.
    pub x: f64,
    /// The value.
    pub value: f64,
    /// When the session ran.
    pub at: i64,
    /// Its band.
    pub band: usize,
}

/// An outcome chart, laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The versions, oldest first.
    pub bands: Vec<Band>,
    /// The sessions, in time order.
    pub points: Vec<Point>,
    /// Passes, placed among the sessions of the version they ran under:
    /// where, and the pass.
    pub passes: Vec<(f64, PassMark)>,
    /// The values' range, widened when flat.
    pub low: f64,
    /// Its top.
    pub high: f64,
}

impl Layout {
    /// Three value ticks: the bottom, the middle and the top.
    pub fn ticks(&self) -> [f64; 3] {
        [self.low, (self.low + self.high) / 2.0, self.high]
    }
}

/// Lays out `points` (time, value; any order) against the versions
/// `markers` made and the `passes` in the window. The version before the
/// first marker gets a band only when sessions ran under it.
pub fn layout(points: &[(i64, f64)], markers: &[Marker], passes: &[PassMark]) -> Layout {
    let mut markers: Vec<&Marker> = markers.iter().collect();
    markers.sort_by_key(|m| (m.at, m.version));
    let mut points: Vec<(i64, f64)> = points.to_vec();
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // The band a time falls in: the last marker at or before it, after
    // the leading band (index 0) for times before every marker.
    let band_of = |at: i64| markers.iter().take_while(|m| m.at <= at).count();
    let mut counts = vec![0usize; markers.len() + 1];
    for (at, _) in &points {
        counts[band_of(*at)] += 1;
    }
    let lead = counts[0] > 0 || markers.is_empty();
    let first_version = markers.first().map_or(0, |m| m.version - 1);
    // Every band takes a slot per session, and one when it has none.
    let slots: usize = counts.iter().skip(usize::from(!lead)).map(|n| (*n).max(1)).sum();
    let slot = 1.0 / slots.max(1) as f64;
    let mut bands = Vec::new();
    let mut index = vec![usize::MAX; counts.len()];
    let mut x = 0.0;
    for (k, n) in counts.iter().enumerate() {
        if k == 0 && !lead {
            continue;
        }
        let (version, cause) = match k {
            0 => (first_version, None),
            _ => (markers[k - 1].version, Some(markers[k - 1].cause.clone())),
        };
        let width = (*n).max(1) as f64 * slot;
        index[k] = bands.len();
        bands.push(Band { version, cause, from: x, to: x + width, sessions: *n });
        x += width;
    }
    let mut seen = vec![0usize; counts.len()];
    let points: Vec<Point> = points
        .iter()
        .map(|(at, value)| {
            let k = band_of(*at);
            let band = &bands[index[k]];
            let x = band.from + (seen[k] as f64 + 0.5) * slot;
            seen[k] += 1;
            Point { x, value: *value, at: *at, band: index[k] }
        })
        .collect();
    let passes = passes
        .iter()
        .filter_map(|p| {
            let k = band_of(p.at);
            let band = bands.get(*index.get(k)?)?;
            let before = points.iter().filter(|q| q.band == index[k] && q.at < p.at).count();
            Some(((band.from + before as f64 * slot).min(band.to), p.clone()))
        })
        .collect();
    let (mut low, mut high) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.value), hi.max(p.value)));
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    } else if (high - low).abs() < f64::EPSILON {
        (low, high) = (low - 1.0, high + 1.0);
    }
    Layout { bands, points, passes, low, high }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reverie_api::PassStatus;

    fn marker(version: i64, at: i64) -> Marker {
        Marker { version, at, cause: "proposal".into(), proposal_id: None }
    }

    #[test]
    fn sessions_are_spaced_evenly_within_the_version_they_ran_under() {
        // Three sessions under v1, none under v2, two under v3.
        let points = [(10, 0.9), (11, 0.8), (12, 0.85), (40, 0.5), (41, 0.6)];
        let markers = [marker(1, 5), marker(2, 20), marker(3, 30)];
        let pass = PassMark { id: 7, at: 39, status: PassStatus::Completed, proposal_id: None };
        let l = layout(&points, &markers, &[pass]);
        let versions: Vec<(i64, usize)> = l.bands.iter().map(|b| (b.version, b.sessions)).collect();
        assert_eq!(versions, [(1, 3), (2, 0), (3, 2)], "no leading band: no session before v1");
        // Six slots: three, one for the empty version, two.
        let xs: Vec<f64> = l.points.iter().map(|p| (p.x * 12.0).round()).collect();
        assert_eq!(xs, [1.0, 3.0, 5.0, 9.0, 11.0]);
        assert_eq!((l.bands[1].from * 6.0, l.bands[1].to * 6.0), (3.0, 4.0));
        assert_eq!(l.points.iter().map(|p| p.band).collect::<Vec<_>>(), [0, 0, 0, 2, 2]);
        // The pass ran under v3 before its sessions.
        assert_eq!(l.passes[0].0, l.bands[2].from);
        assert_eq!(l.ticks(), [0.5, 0.7, 0.9]);
    }

    #[test]
    fn sessions_before_the_first_version_and_flat_values_have_their_place() {
        let l = layout(&[(1, 2.0), (9, 2.0)], &[marker(4, 5)], &[]);
        let bands: Vec<(i64, Option<String>, usize)> =
            l.bands.iter().map(|b| (b.version, b.cause.clone(), b.sessions)).collect();
        assert_eq!(bands, [(3, None, 1), (4, Some("proposal".into()), 1)]);
        assert_eq!((l.low, l.high), (1.0, 3.0));
        let empty = layout(&[], &[], &[]);
        assert_eq!(
            (empty.bands.len(), empty.points.len(), empty.low, empty.high),
            (1, 0, 0.0, 1.0)
        );
    }
}
