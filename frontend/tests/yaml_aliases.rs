//! YAML anchors, aliases and merge keys (`<<`): a spec that reuses its `x-` blocks is the spec
//! written out, with errors located at the anchored text, and a bounded expansion.

mod common;

use decant::compile;
use decant::limits::MAX_ALIAS_NODES;
use decant::plan::BuildOptions;

fn all() -> BuildOptions {
    BuildOptions { all_stages: true, ..Default::default() }
}

fn errors(text: &str) -> String {
    match compile::plan("decant.yaml", text, &all()) {
        Ok(_) => panic!("expected an error"),
        Err(d) => d.summary(),
    }
}

fn expect(text: &str, summary: &str) {
    assert_eq!(errors(text), summary);
}

/// The ops of both specs are byte for byte the same (source maps and vertex names point at
/// each spec's own lines, so only the ops are compared).
fn same_llb(aliased: &str, written: &str) {
    let a = common::definition(aliased, &all());
    let b = common::definition(written, &all());
    assert_eq!(a.def, b.def, "the same ops, in the same order");
}

const MOUNTS: &str = r#"# syntax=decant/frontend:dev
x-mounts: &mounts
  - cache: /root/.cache/go-build
    sharing: locked
  - tmpfs: /tmp
stages:
  app:
    from: busybox:local
    steps:
      - run: go build ./...
        mounts: *mounts
      - run: go test ./...
        mounts: *mounts
"#;

const MOUNTS_WRITTEN: &str = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - run: go build ./...
        mounts:
          - cache: /root/.cache/go-build
            sharing: locked
          - tmpfs: /tmp
      - run: go test ./...
        mounts:
          - cache: /root/.cache/go-build
            sharing: locked
          - tmpfs: /tmp
"#;

#[test]
fn an_aliased_mounts_list_is_the_list_written_out() {
    same_llb(MOUNTS, MOUNTS_WRITTEN);
}

const MERGE: &str = r#"# syntax=decant/frontend:dev
x-base: &base
  from: busybox:local
  workdir: /src
  env: { MODE: release, CC: gcc }
x-labels: &labels
  labels: { team: build }
  user: nobody
x-more: &more
  labels: { team: other }
  stop_signal: SIGINT
stages:
  app:
    <<: [*labels, *more, *base]
    env: { MODE: debug }
    steps:
      - run: make
"#;

const MERGE_WRITTEN: &str = r#"# syntax=decant/frontend:dev
stages:
  app:
    labels: { team: build }
    user: nobody
    stop_signal: SIGINT
    from: busybox:local
    workdir: /src
    env: { MODE: debug }
    steps:
      - run: make
"#;

#[test]
fn a_merge_key_gives_the_keys_a_mapping_does_not_set() {
    same_llb(MERGE, MERGE_WRITTEN);
    let plan = common::plan(MERGE, &BuildOptions::default());
    let stage = serde_json::to_string(&plan.stage("app").unwrap()).unwrap();
    assert!(stage.contains("MODE") && stage.contains("debug"), "{stage}");
    assert!(!stage.contains("CC") && !stage.contains("release"), "an explicit `env` wins whole: {stage}");
    assert!(stage.contains(r#""team":"build""#) && !stage.contains("other"), "the first merged wins: {stage}");
    assert!(stage.contains("SIGINT") && stage.contains("/src"), "{stage}");
}

#[test]
fn a_single_merged_mapping_and_an_override() {
    let text = r#"# syntax=decant/frontend:dev
x-run: &run
  run: make
  network: none
stages:
  app:
    from: busybox:local
    steps:
      - <<: *run
        network: host
"#;
    let written =
        text.replace("      - <<: *run\n        network: host\n", "      - run: make\n        network: host\n");
    // `network: host` needs the entitlement: compare the plans, not the lowering. The step's
    // line is where its text is: the anchored `run:`.
    let a = serde_json::to_string(&common::plan(text, &all())).unwrap();
    let b = serde_json::to_string(&common::plan(&written, &all())).unwrap();
    assert_eq!(a, b.replace(r#""line":9"#, r#""line":3"#));
    assert!(a.contains("host"), "{a}");
}

#[test]
fn an_alias_to_an_undefined_anchor_is_located() {
    let text = "# syntax=decant/frontend:dev\nx-mounts: &mounts []\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - run: make\n        mounts: *mount\n";
    expect(text, "decant.yaml:8:17: error: the alias `*mount` refers to no anchor (did you mean `*mounts`?)");
    let later =
        "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    env: *e\nx-env: &e { A: b }\n";
    expect(later, "decant.yaml:5:10: error: the alias `*e` refers to no anchor (`&e` comes after the alias: YAML needs the anchor first)");
}

#[test]
fn an_error_in_anchored_text_is_reported_once_there_naming_the_aliases() {
    let text = MOUNTS.replace("sharing: locked", "sharing: lockd");
    let summary = errors(&text);
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(summary.starts_with("decant.yaml:4:14: error: "), "{summary}");
    assert!(
        summary.ends_with(
            "(this text is used through the alias `*mounts` at decant.yaml:11:17, `*mounts` at decant.yaml:13:17)"
        ),
        "{summary}"
    );
    let rendered = compile::plan("decant.yaml", &text, &all()).unwrap_err().render();
    assert!(rendered.contains("= note: this text is used through the alias `*mounts`"), "{rendered}");
}

#[test]
fn merge_takes_mappings_only() {
    let text = "# syntax=decant/frontend:dev\nx-a: &a alpine\nstages:\n  app:\n    <<: *a\n    from: busybox:local\n";
    expect(
        text,
        "decant.yaml:2:9: error: `<<` merges a mapping or a list of mappings (`<<: *name`), found a string (this text is used through the alias `*a` at decant.yaml:5:9)"
    );
}

/// Aliases of aliases, doubling at each level ("billion laughs"): the error comes at the alias
/// that goes over, before anything is copied.
#[test]
fn billion_laughs_fails_fast_at_the_limit() {
    let mut text =
        String::from("# syntax=decant/frontend:dev\nx-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "x-{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text.push_str("stages:\n  app:\n    from: busybox:local\n");
    let t = std::time::Instant::now();
    let summary = errors(&text);
    assert!(t.elapsed() < std::time::Duration::from_secs(2), "took {:?}", t.elapsed());
    // Levels 1 to 3 copy 12,330 nodes; each `*a3` copies 11,111 more: the eighth crosses 100,000.
    assert_eq!(
        summary,
        format!("decant.yaml:6:46: error: `*a3` makes the spec's aliases copy more than {MAX_ALIAS_NODES} nodes (limits::MAX_ALIAS_NODES)")
    );
}

#[test]
fn aliases_cannot_nest_past_the_depth_limit() {
    // 40 levels, aliased inside 40 more: each text is shallow, the copy is not.
    let deep = format!("{}x{}", "[".repeat(40), "]".repeat(40));
    let text = format!(
        "# syntax=decant/frontend:dev\nx-a: &a {deep}\nx-b: {}*a{}\nstages:\n  app:\n    from: busybox:local\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    let summary = errors(&text);
    assert!(summary.contains("through `*a`, the spec nests lists and mappings more than 64 deep"), "{summary}");
    assert!(!deep.is_empty());
}
