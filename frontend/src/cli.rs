//! The command line: `decant check|plan|llb|config|graph|schema|convert|eject|frontend`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::diag::Diagnostics;
use crate::plan::{BuildOptions, Platform};
use crate::{compile, convert, graph, lint, llb, lower, plan, spec};

#[derive(Parser)]
#[command(name = "decant", version, about = "Declarative multi-stage container builds, compiled to BuildKit LLB")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a spec: print every problem with its line and column; exit 1 on errors.
    Check {
        /// The spec (default: `decant.yaml`, else `Dockerfile`, as the frontend looks).
        file: Option<PathBuf>,
        /// Check with a build arg set, as a build gives it: `--build-arg NAME=value` (e.g. an
        /// arg without a default that a `from:` uses).
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
    },
    /// Print the resolved stage graph of a build as JSON.
    Plan(BuildArgs),
    /// Print the LLB definition: protobuf bytes (what `buildctl build` reads on stdin) or JSON.
    Llb {
        #[command(flatten)]
        build: BuildArgs,
        /// Print readable JSON (ops by digest, like `buildctl debug dump-llb`).
        #[arg(long)]
        json: bool,
    },
    /// Print the image config JSON the target would get (without base image configs).
    Config(BuildArgs),
    /// Print the stages and the copies that link them, as Graphviz dot or Mermaid.
    Graph {
        /// The spec (default: `decant.yaml`, else `Dockerfile`).
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Print the JSON schema of decant.yaml, for editor completion and validation.
    Schema,
    /// Convert a Dockerfile to a spec on stdout; what differs or was not converted goes to stderr.
    Convert {
        #[arg(default_value = "Dockerfile")]
        file: PathBuf,
        /// The frontend image for the spec's `# syntax=` line.
        #[arg(long, default_value = "decant/frontend:dev")]
        syntax: String,
    },
    /// Print the Dockerfile equivalent of a spec.
    Eject {
        #[arg(default_value = "decant.yaml")]
        file: PathBuf,
    },
    /// Run as a BuildKit gateway frontend (the frontend image's entrypoint).
    Frontend,
    /// A frontend that only connects and returns an empty result: the benchmark's floor (the
    /// cost any frontend image pays to start), never used by a build.
    #[command(hide = true)]
    FrontendNoop,
}

#[derive(ClapArgs)]
struct BuildArgs {
    /// The spec (default: `decant.yaml`, else `Dockerfile`, as the frontend looks).
    file: Option<PathBuf>,
    /// The stage to build (default: the last one).
    #[arg(long)]
    target: Option<String>,
    /// Set a build arg: `--build-arg NAME=value`.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// Target platform, e.g. linux/arm64 (default: linux/amd64).
    #[arg(long)]
    platform: Option<String>,
    /// A named context, as `docker buildx build --build-context` gives it:
    /// `NAME=docker-image://REF`, `NAME=local:DIR`, `NAME=https://host/repo.git#ref`, ...
    #[arg(long = "build-context", value_name = "NAME=VALUE")]
    build_contexts: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Started by BuildKit as a frontend (an image whose entrypoint forgot the subcommand).
    if std::env::args().len() == 1 && std::env::var_os("BUILDKIT_SESSION_ID").is_some() {
        return crate::gateway::frontend::main();
    }
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`decant llb --json | head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        // Diagnostics carry their own `error:` lines.
        Err(e) => {
            match e.downcast_ref::<Rendered>() {
                Some(Rendered(text)) => eprint!("{text}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Diagnostics rendered for the terminal, printed as they are.
#[derive(Debug)]
struct Rendered(String);

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rendered {}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Frontend => Ok(crate::gateway::frontend::main()),
        Command::FrontendNoop => Ok(crate::gateway::frontend::noop_main()),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&spec::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, build_args } => {
            let (name, text) = read(file.as_deref())?;
            // Every stage is checked, not only those the default target needs.
            let opts =
                BuildOptions { all_stages: true, build_args: parse_build_args(&build_args)?, ..Default::default() };
            let (parsed, parse_errors) = spec::parse_spec_partial(&name, &text);
            match (compile::plan_parsed(parsed.as_ref(), &parse_errors, &opts), parsed) {
                (Ok(_), Some(s)) => {
                    // As configured by the spec's `# check=` directive; `error=true` fails on warnings.
                    let (warnings, config) = lint::lint_configured(&s);
                    let failed = config.error && !warnings.is_empty();
                    if !warnings.is_empty() {
                        eprint!("{}", render(&Diagnostics::new(s.file.clone(), warnings)));
                    }
                    if failed {
                        eprintln!("{name}: warnings are errors (`# check=error=true`)");
                        return Ok(ExitCode::FAILURE);
                    }
                    println!("{}: ok ({} stages)", name, s.stages.len());
                    Ok(ExitCode::SUCCESS)
                }
                (Err(d), _) => {
                    eprint!("{}", render(&d));
                    Ok(ExitCode::FAILURE)
                }
                // A plan always comes from a parsed spec.
                (Ok(_), None) => Ok(ExitCode::FAILURE),
            }
        }
        Command::Convert { file, syntax } => {
            let (name, text) = read_file(&file)?;
            let opts = convert::ConvertOptions { file_name: name.clone(), syntax };
            match convert::convert(&text, &opts) {
                Ok(c) => {
                    print!("{}", c.yaml);
                    eprint!("{}", c.render_notes(&name));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{name}:{}: error: {}", e.loc, e.message);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Eject { file } => {
            let (name, text) = read_file(&file)?;
            match spec::parse_spec(&name, &text) {
                Ok(s) => {
                    print!("{}", convert::eject(&s));
                    Ok(ExitCode::SUCCESS)
                }
                Err(d) => {
                    eprint!("{}", render(&d));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Plan(args) => with_plan(&args, |p| {
            println!("{}", serde_json::to_string_pretty(p)?);
            Ok(())
        }),
        Command::Config(args) => with_plan(&args, |p| {
            let lowered = lower_offline(p, &args)?;
            let value: serde_json::Value = serde_json::from_slice(&lowered.config.to_json())?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(())
        }),
        Command::Llb { build, json } => with_plan(&build, |p| {
            let lowered = lower_offline(p, &build)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&llb::dump_json(&lowered.definition()))?);
            } else {
                let mut out = std::io::stdout().lock();
                if out.is_terminal() {
                    bail!("refusing to write binary protobuf to a terminal: pipe it (`| buildctl build ...`) or use --json");
                }
                out.write_all(&lowered.definition_bytes())?;
                out.flush()?;
            }
            // The process ends next: not freeing the graph node by node saves a few percent of
            // the run on large specs.
            std::mem::forget(lowered);
            Ok(())
        }),
        Command::Graph { file, format } => {
            let (name, text) = read(file.as_deref())?;
            match spec::parse_spec(&name, &text) {
                Ok(s) => {
                    let g = graph::StageGraph::from_spec(&s);
                    print!(
                        "{}",
                        match format {
                            GraphFormat::Dot => g.dot(),
                            GraphFormat::Mermaid => g.mermaid(),
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(d) => {
                    eprint!("{}", render(&d));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn with_plan(args: &BuildArgs, f: impl FnOnce(&plan::Plan) -> anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    let (name, text) = read(args.file.as_deref())?;
    let build_args = parse_build_args(&args.build_args)?;
    let target_platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let named_contexts = build_contexts(args)?.into_keys().collect();
    let opts = BuildOptions {
        target: args.target.clone(),
        build_args,
        build_platform: Platform::default(),
        target_platform,
        all_stages: false,
        named_contexts,
    };
    // Parsed once: the plan and the build-arg lint read the same spec.
    let (parsed, parse_errors) = spec::parse_spec_partial(&name, &text);
    match compile::plan_parsed(parsed.as_ref(), &parse_errors, &opts) {
        Ok(p) => {
            // A plan comes only from a spec parsed without errors. The spec is dropped here,
            // before lowering, which then reuses its memory (kept to the end, as the plan is,
            // the peak RSS at 10,000 stages is 23% higher for 4% less time).
            if let Some(s) = parsed {
                if let Some(w) = lint::unconsumed_build_args(&s, opts.build_args.keys().map(String::as_str)) {
                    eprint!("{}", render(&Diagnostics::new(s.file.clone(), vec![w])));
                }
            }
            f(&p)?;
            // As the graph in `decant llb`: the process ends next.
            std::mem::forget(p);
            Ok(ExitCode::SUCCESS)
        }
        Err(d) => {
            eprint!("{}", render(&d));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `--build-arg NAME=VALUE` options, by name.
fn parse_build_args(args: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in args {
        let Some((k, v)) = kv.split_once('=') else { bail!("--build-arg `{kv}` must be NAME=VALUE") };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn build_contexts(args: &BuildArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in &args.build_contexts {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => bail!("--build-context `{kv}` must be NAME=VALUE"),
        }
    }
    Ok(out)
}

fn lower_offline(p: &plan::Plan, args: &BuildArgs) -> anyhow::Result<lower::Lowered> {
    let named_contexts = lower::contexts::offline(p, &build_contexts(args)?).map_err(anyhow::Error::msg)?;
    // Proxy args and BUILDKIT_CACHE_MOUNT_NS apply offline too, as through BuildKit.
    let build_args = args.build_args.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into()));
    let run = lower::RunOptions::from_build_args(&build_args.collect());
    let inputs = lower::Inputs { named_contexts, run, ..Default::default() };
    Ok(lower::lower(p, &inputs).map_err(|d| Rendered(render(&d)))?)
}

/// A named file (convert and eject take exactly the file they are given).
fn read_file(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

fn render(d: &Diagnostics) -> String {
    if std::io::stderr().is_terminal() {
        d.render_styled()
    } else {
        d.render()
    }
}

/// The spec names the frontend tries when the build names none, in order.
const DEFAULT_SPECS: &[&str] = &["decant.yaml", "Dockerfile"];

/// Reads the spec `path`, or the first of [`DEFAULT_SPECS`] that exists. A Dockerfile (not a
/// decant spec under that name) is an error that points at `decant convert`.
fn read(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => DEFAULT_SPECS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SPECS[0])),
    };
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let text = spec::decode_text(&name, bytes).map_err(|d| Rendered(render(&d)))?;
    if is_dockerfile(&text) {
        bail!(
            "{} is a Dockerfile, not a decant spec\n  convert it with `decant convert {0} > decant.yaml`, or build it with the Dockerfile frontend",
            path.display()
        );
    }
    Ok((name, text))
}

/// A Dockerfile: its first instruction (after comments, blank lines and parser directives) is
/// `FROM` or `ARG` followed by a space, which no YAML mapping starts with.
fn is_dockerfile(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    first.is_some_and(|l| {
        let word = l.split_whitespace().next().unwrap_or("");
        (word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("ARG")) && !word.ends_with(':')
    })
}

#[cfg(test)]
mod tests {
    use super::is_dockerfile;

    #[test]
    fn tells_a_dockerfile_from_a_spec() {
        assert!(is_dockerfile("# syntax=docker/dockerfile:1\nFROM alpine:3.20 AS build\nRUN make\n"));
        assert!(is_dockerfile("\narg VERSION=1\nfrom busybox\n"));
        assert!(!is_dockerfile("# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox\n"));
        assert!(!is_dockerfile("FROM: x\n"));
        assert!(!is_dockerfile(""));
    }
}
