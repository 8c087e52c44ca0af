//! The frontend's own time, phase by phase.
//!
//! Turned on by the opt `decant-timings=1` (`buildctl --opt`) or the build arg
//! `DECANT_TIMINGS=1` (the only way `docker build` 20.10 can pass it). The phases are then
//! shown to the user as progress vertices named `[decant timings] PHASE: N ms` (every daemon)
//! and as one build warning (daemons with cap `gateway.warnings`, BuildKit 0.10+), and written to
//! the frontend's stderr (the daemon log), which alone also gets the time of `Return`.
//!
//! Phases may overlap (independent round trips run at the same time): each one is reported with
//! its start, relative to the start of the process, and its own duration.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::{cap, Client, SolveParams, Warning};
use super::{FrontendOpts, OptsError};
use crate::llb::{self, FileChain, OpMeta, State};

/// The opt that turns timings on (`buildctl --opt decant-timings=1`).
pub const OPT: &str = "decant-timings";
/// The build arg that turns timings on (`docker build --build-arg DECANT_TIMINGS=1`).
pub const BUILD_ARG: &str = "DECANT_TIMINGS";

/// Whether the client asked for timings. The opt wins over the build arg; an empty value is off.
pub fn requested(opts: &FrontendOpts) -> Result<bool, OptsError> {
    let build_arg = format!("build-arg:{BUILD_ARG}");
    let Some((key, value)) = [OPT, build_arg.as_str()].into_iter().find_map(|k| Some((k, opts.get(k)?))) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err(OptsError::Invalid {
            opt: key.to_string(),
            value: value.to_string(),
            reason: "expected 1/true/yes/on or 0/false/no/off".to_string(),
        }),
    }
}

/// One measured phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// What ran (`ping`, `read spec`, ...).
    pub name: &'static str,
    /// When it started, from the origin.
    pub start: Duration,
    /// How long it ran (summed when a phase is recorded more than once).
    pub duration: Duration,
}

/// Phase durations of one frontend run. Cheap enough to keep on every run.
#[derive(Debug)]
pub struct Timings {
    origin: Instant,
    phases: Mutex<Vec<Phase>>,
    /// Digest of the vertex the timings warning attaches to (the spec's load vertex).
    vertex: Mutex<String>,
}

impl Timings {
    /// Timings counted from `origin` (the start of the process).
    pub fn new(origin: Instant) -> Timings {
        Timings { origin, phases: Mutex::new(Vec::new()), vertex: Mutex::new(String::new()) }
    }

    /// Sets the vertex the timings warning attaches to.
    pub fn set_vertex(&self, digest: &str) {
        if let Ok(mut v) = self.vertex.lock() {
            *v = digest.to_string();
        }
    }

    /// Records phase `name` as running from `start` until now. A second record of the same
    /// name adds to its duration and keeps the first start.
    pub fn record(&self, name: &'static str, start: Instant) {
        self.record_until(name, start, Instant::now());
    }

    /// Records phase `name` as running from `start` until `now` (see [`Timings::record`]).
    pub fn record_until(&self, name: &'static str, start: Instant, now: Instant) {
        let phase = Phase {
            name,
            start: start.saturating_duration_since(self.origin),
            duration: now.saturating_duration_since(start),
        };
        let Ok(mut phases) = self.phases.lock() else { return };
        match phases.iter_mut().find(|p| p.name == name) {
            Some(p) => p.duration += phase.duration,
            None => phases.push(phase),
        }
    }

    /// Runs `fut` as phase `name`.
    pub async fn time<F: Future>(&self, name: &'static str, fut: F) -> F::Output {
        let start = Instant::now();
        let out = fut.await;
        self.record(name, start);
        out
    }

    /// The phases so far, in order of their start.
    pub fn phases(&self) -> Vec<Phase> {
        let mut out = self.phases.lock().map(|p| p.clone()).unwrap_or_default();
        out.sort_by_key(|p| p.start);
        out
    }

    /// Time from the origin until now.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// One line per phase, `PHASE: N ms (at +N ms)`, then `total: N ms`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> =
            self.phases().iter().map(|p| format!("{}: {} (at +{})", p.name, ms(p.duration), ms(p.start))).collect();
        out.push(format!("total: {}", ms(self.elapsed())));
        out
    }

    /// Writes the phases to stderr (the daemon log), one line.
    pub fn to_stderr(&self) {
        eprintln!("decant timings: {}", self.lines().join(", "));
    }

    /// Shows the phases so far to the user: one progress vertex per phase (solved at once, so
    /// the vertices appear now) and, where the daemon shows them, one build warning attached to
    /// the vertex set by [`Timings::set_vertex`]. Failures are only logged: timings never fail a
    /// build.
    pub async fn show(&self, client: &Client) {
        let vertex = self.vertex.lock().map(|v| v.clone()).unwrap_or_default();
        let lines = self.lines();
        let definition = llb::marshal_bytes(&progress_state(&lines));
        let evaluate = client.caps().is_some_and(|c| c.has_gateway(cap::SOLVE_EVALUATE));
        let params = SolveParams { definition, evaluate, ..Default::default() };
        match client.solve(params).await {
            // Without `evaluate` the solve is lazy: reading a file makes the vertices run.
            Ok(r) if !evaluate => {
                if let Err(e) = client.read_file(&r.id, "/total", None).await {
                    eprintln!("decant: showing the timings failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("decant: showing the timings failed: {e}"),
        }
        if !vertex.is_empty() {
            let warning = Warning {
                vertex_digest: vertex.to_string(),
                level: 1,
                short: format!("decant timings: {}", lines.last().map(String::as_str).unwrap_or_default()),
                detail: lines,
                ..Default::default()
            };
            if let Err(e) = client.warn(warning).await {
                eprintln!("decant: sending the timings warning failed: {e}");
            }
        }
    }
}

/// A chain of empty FileOps on scratch, one per line, named `[decant timings] LINE`. The ops
/// never change (only their names do), so after the first build they are cache hits.
pub fn progress_state(lines: &[String]) -> State {
    let mut state = State::scratch();
    for line in lines {
        let path = format!("/{}", line.split(':').next().unwrap_or_default().replace([' ', '/', '.'], "-"));
        state = FileChain::on(state)
            .mkfile(path, 0o644, Vec::new(), None)
            .finish(None, OpMeta::named(format!("[decant timings] {line}")));
    }
    state
}

/// `12.3 ms`.
fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> FrontendOpts {
        FrontendOpts::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn requested_by_opt_or_build_arg() {
        assert!(!requested(&opts(&[])).unwrap());
        assert!(requested(&opts(&[("decant-timings", "1")])).unwrap());
        assert!(requested(&opts(&[("build-arg:DECANT_TIMINGS", "true")])).unwrap());
        assert!(!requested(&opts(&[("build-arg:DECANT_TIMINGS", "")])).unwrap());
        // The opt wins over the build arg.
        assert!(!requested(&opts(&[("decant-timings", "0"), ("build-arg:DECANT_TIMINGS", "1")])).unwrap());
        let err = requested(&opts(&[("build-arg:DECANT_TIMINGS", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("build-arg:DECANT_TIMINGS"), "{err}");
    }

    #[test]
    fn phases_are_ordered_by_start_and_summed_by_name() {
        let origin = Instant::now();
        let t = Timings::new(origin);
        let b = origin + Duration::from_millis(5);
        let a = origin + Duration::from_millis(1);
        // Recorded out of order; `a` twice.
        t.record("b", b);
        t.record("a", a);
        t.record("a", a);
        let phases = t.phases();
        assert_eq!(phases.iter().map(|p| p.name).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(phases[0].start, Duration::from_millis(1));
        assert!(phases[0].duration >= Duration::from_millis(2) * 2 - Duration::from_millis(4));
        let lines = t.lines();
        assert!(lines[0].starts_with("a: ") && lines[0].ends_with("(at +1.0 ms)"), "{lines:?}");
        assert!(lines.last().unwrap().starts_with("total: "), "{lines:?}");
    }

    #[test]
    fn progress_vertices_are_named_per_phase_and_keyed_by_phase_only() {
        let one = llb::marshal(&progress_state(&["ping: 1.0 ms (at +0.5 ms)".into(), "total: 3.0 ms".into()]));
        let two = llb::marshal(&progress_state(&["ping: 2.5 ms (at +0.7 ms)".into(), "total: 9.0 ms".into()]));
        // Same ops (cache hits on the next build), different names.
        assert_eq!(one.def, two.def);
        let names: Vec<String> =
            one.metadata.values().filter_map(|m| m.description.get("llb.customname").cloned()).collect();
        assert!(names.contains(&"[decant timings] ping: 1.0 ms (at +0.5 ms)".to_string()), "{names:?}");
        assert!(names.contains(&"[decant timings] total: 3.0 ms".to_string()), "{names:?}");
    }
}
