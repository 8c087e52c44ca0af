//! The command line: `decant check|plan|llb|graph|frontend`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::diag::Diagnostics;
use crate::plan::{BuildOptions, Platform};
use crate::{compile, graph, lint, llb, lower, plan, spec};

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
        #[arg(default_value = "decant.yaml")]
        file: PathBuf,
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
        #[arg(default_value = "decant.yaml")]
        file: PathBuf,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Print the JSON schema of decant.yaml, for editor completion and validation.
    Schema,
    /// Run as a BuildKit gateway frontend (the frontend image's entrypoint).
    Frontend,
    /// A frontend that only connects and returns an empty result: the benchmark's floor (the
    /// cost any frontend image pays to start), never used by a build.
    #[command(hide = true)]
    FrontendNoop,
}

#[derive(ClapArgs)]
struct BuildArgs {
    #[arg(default_value = "decant.yaml")]
    file: PathBuf,
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
        Command::Check { file } => {
            let (name, text) = read(&file)?;
            // Every stage is checked, not only those the default target needs.
            let opts = BuildOptions { all_stages: true, ..Default::default() };
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
            let def = lower_offline(p, &build)?.definition();
            if json {
                println!("{}", serde_json::to_string_pretty(&llb::dump_json(&def))?);
            } else {
                let mut out = std::io::stdout().lock();
                if out.is_terminal() {
                    bail!("refusing to write binary protobuf to a terminal: pipe it (`| buildctl build ...`) or use --json");
                }
                out.write_all(&llb::encode(&def))?;
                out.flush()?;
            }
            Ok(())
        }),
        Command::Graph { file, format } => {
            let (name, text) = read(&file)?;
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
    let (name, text) = read(&args.file)?;
    let mut build_args = BTreeMap::new();
    for kv in &args.build_args {
        let Some((k, v)) = kv.split_once('=') else { bail!("--build-arg `{kv}` must be NAME=VALUE") };
        build_args.insert(k.to_string(), v.to_string());
    }
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
    match compile::plan(&name, &text, &opts) {
        Ok(p) => {
            f(&p)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(d) => {
            eprint!("{}", render(&d));
            Ok(ExitCode::FAILURE)
        }
    }
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

fn render(d: &Diagnostics) -> String {
    if std::io::stderr().is_terminal() {
        d.render_styled()
    } else {
        d.render()
    }
}

fn read(path: &Path) -> anyhow::Result<(String, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let text = spec::decode_text(&name, bytes).map_err(|d| Rendered(render(&d)))?;
    Ok((name, text))
}
