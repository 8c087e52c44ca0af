//! The JSON schema of `decant.yaml`, for editors: `decant schema > decant.schema.json`, then
//! `# yaml-language-server: $schema=decant.schema.json` (or the editor's settings) gives
//! completion, hover docs and validation while typing.
//!
//! These types are the one description of the YAML shape: the JSON schema is derived from them
//! (schemars), and the decoder in `decode.rs` takes the keys it accepts at each place from them
//! (`KEYS`, `KINDS`), so a key added here is accepted there. The decoder still walks the YAML
//! by hand, for located errors (see `decode.rs`), into the types of `spec`.
//!
//! Why a macro and not serde/schemars attributes on the `spec` types: those types hold spans
//! and the decoder's leniency (a missing `from` is an error, not a failed parse), and the
//! schema's shape differs from theirs (a step is one mapping with its kind among its keys). A
//! `macro_rules!` around plain schemars structs gives the key lists as constants, in writing
//! order, at no cost on the compile path (no schema built at run time).

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// Structs of the description: each derives its schema and gets `KEYS`, its field names in
/// order (a step's or mount's kind key is its first field).
macro_rules! shape {
    ($(
        $(#[$meta:meta])*
        struct $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[allow(dead_code)]
        pub(super) struct $name { $( $(#[$fmeta])* $field: $ty ),* }
        impl $name {
            /// The keys of this mapping, in the order written here.
            pub(super) const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    )*};
}

/// Enums of mappings told apart by their first key (steps, mounts): `KINDS` lists those keys.
macro_rules! one_of {
    ($(#[$meta:meta])* enum $name:ident { $($variant:ident($ty:ident)),* $(,)? }) => {
        $(#[$meta])*
        #[allow(dead_code)]
        pub(super) enum $name { $($variant($ty)),* }
        impl $name {
            /// The kind keys, in the order written here.
            pub(super) const KINDS: &'static [&'static str] = &[$($ty::KEYS[0]),*];
            /// The keys of each kind (kind key first), in the order of `KINDS`.
            #[allow(dead_code)]
            pub(super) const KEYS_OF: &'static [&'static [&'static str]] = &[$($ty::KEYS),*];
        }
    };
}

shape! {
    /// A decant build spec: stages with a base image, ordered steps, and the config of the image
    /// each produces. Keys starting with `x-` are free for your own use, at every level.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(title = "decant.yaml", extend("patternProperties" = { "^x-": {} }))]
    struct Spec {
        /// Build arguments and their defaults, overridden by `--build-arg NAME=value`. `${NAME}` and
        /// `${NAME:-fallback}` are replaced in every string field except commands; a `run` command
        /// gets the args it mentions (`$NAME`) as environment variables.
        args: Option<BTreeMap<String, Option<Arg>>>,
        /// The stages, in document order. The last one is the default target; `--target` picks
        /// another. Names: lowercase letters, digits, `-`, `_`, `.`.
        stages: BTreeMap<String, Stage>,
    }
}

/// A default value, or a mapping with `default` and `description`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Arg {
    Default(Scalar),
    Described(ArgDetail),
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct ArgDetail {
        /// The value when the build does not set one.
        default: Option<Scalar>,
        /// Shown by `docker buildx build --call outline`.
        description: Option<String>,
        /// Give the arg to every `run` as an environment variable, mentioned or not (e.g. `NODE_ENV` for `yarn build`).
        env: Option<bool>,
    }
}

/// A YAML scalar: text, a number or a boolean (all read as text).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// One value or a list of them.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOrMany {
    One(Scalar),
    Many(Vec<Scalar>),
}

/// A command: a string runs through the shell (`/bin/sh -c` unless `shell` says otherwise), a
/// list runs as is (exec form).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Command {
    Shell(String),
    Exec(Vec<String>),
}

shape! {
    /// One stage: a base, ordered steps, and the config of the image it makes.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("patternProperties" = { "^x-": {} }))]
    struct Stage {
        /// An image (`alpine:3.20`; `:latest` when untagged), `scratch`, or another stage's name.
        from: String,
        /// `os/arch[/variant]` the stage runs on; e.g. `${BUILDPLATFORM}` for a compile stage.
        platform: Option<String>,
        /// Shown by `docker buildx build --call targets`.
        description: Option<String>,
        /// Values of top-level args for this stage only, like a Dockerfile `ARG NAME=value` in a
        /// stage; `--build-arg` still wins.
        args: Option<BTreeMap<String, Option<Scalar>>>,
        /// Working directory from the first step on; created if missing; kept in the image.
        workdir: Option<String>,
        /// Environment from the first step on; kept in the image.
        env: Option<BTreeMap<String, Option<Scalar>>>,
        /// The user the image runs as. Steps still run as the base image's user.
        user: Option<Scalar>,
        /// The shell for string commands, e.g. `["/bin/bash", "-euo", "pipefail", "-c"]`.
        shell: Option<Vec<String>>,
        /// The build steps, in order.
        steps: Option<Vec<Step>>,
        /// The image's default command.
        cmd: Option<Command>,
        /// The image's entrypoint; setting it drops an inherited `cmd`.
        entrypoint: Option<Command>,
        /// Ports the image exposes: `8080`, `8080/tcp`, `53/udp`.
        expose: Option<OneOrMany>,
        /// How Docker checks that a container of the image is healthy.
        healthcheck: Option<Healthcheck>,
        /// Image labels; `--label` adds more.
        labels: Option<BTreeMap<String, Option<Scalar>>>,
        /// Absolute paths the image declares as volumes.
        volumes: Option<OneOrMany>,
        /// The signal that stops a container: `SIGTERM`, `TERM`, `15`, ...
        stop_signal: Option<Scalar>,
        /// Docker `ONBUILD` triggers the image carries: Dockerfile instructions (`RUN make`,
        /// `COPY . /app`) that a Dockerfile build starting from this image runs first.
        onbuild: Option<OneOrMany>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Healthcheck {
        /// The check command, or `none` to drop the base image's check.
        cmd: Command,
        /// Time between checks: `30s`, `1m30s`, `500ms`.
        interval: Option<String>,
        /// How long one check may take.
        timeout: Option<String>,
        /// Grace time after the container starts.
        start_period: Option<String>,
        /// Time between checks during the start period (Docker 25+).
        start_interval: Option<String>,
        /// Failures in a row before the container is unhealthy.
        retries: Option<Scalar>,
    }
}

one_of! {
    /// One step: exactly one of `run`, `copy`, `env`, `workdir`, `user`, `file`, with that kind's options.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum Step {
        Run(RunStep),
        Copy(CopyStep),
        Env(EnvStep),
        Workdir(WorkdirStep),
        User(UserStep),
        File(FileStep),
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("patternProperties" = { "^x-": {} }))]
    struct RunStep {
        /// The command to run.
        run: Command,
        /// Environment for this step only.
        env: Option<BTreeMap<String, Option<Scalar>>>,
        /// Working directory for this step (relative to the stage's).
        workdir: Option<String>,
        /// User for this step.
        user: Option<Scalar>,
        /// Network of the step (`host` needs the `network.host` entitlement).
        network: Option<NetworkMode>,
        /// `insecure` needs the `security.insecure` entitlement.
        security: Option<SecurityMode>,
        /// Caches, secrets, SSH sockets, tmpfs and binds for this step only.
        mounts: Option<Vec<Mount>>,
    }
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum NetworkMode {
    Default,
    Sandbox,
    None,
    Host,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SecurityMode {
    Sandbox,
    Insecure,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Sharing {
    Shared,
    Private,
    Locked,
}

one_of! {
    /// A mount: exactly one of `cache`, `secret`, `ssh`, `tmpfs`, `bind`, with its options.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum Mount {
        Cache(CacheMount),
        Secret(SecretMount),
        Ssh(SshMount),
        Tmpfs(TmpfsMount),
        Bind(BindMount),
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct CacheMount {
        /// Where the persistent cache is mounted.
        cache: String,
        /// Cache id (default: the target path); equal ids share one cache.
        id: Option<String>,
        /// How concurrent builds share it.
        sharing: Option<Sharing>,
        /// A stage or image whose files seed the cache.
        from: Option<String>,
        /// The directory of `from` to seed with.
        source: Option<String>,
        /// Octal mode of the cache directory.
        mode: Option<Scalar>,
        uid: Option<Scalar>,
        gid: Option<Scalar>,
        /// Mount the cache read-only.
        readonly: Option<Scalar>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct SecretMount {
        /// The secret's id (`docker build --secret id=ID,src=FILE`).
        secret: String,
        /// Where the file appears (default `/run/secrets/ID`).
        target: Option<String>,
        /// Expose the secret as this environment variable instead (BuildKit 0.10+).
        env: Option<String>,
        /// Fail when the build has no such secret.
        required: Option<bool>,
        mode: Option<Scalar>,
        uid: Option<Scalar>,
        gid: Option<Scalar>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct SshMount {
        /// The forwarded agent's id (`docker build --ssh default`).
        ssh: String,
        /// The socket's path (default `/run/buildkit/ssh_agent.N`; `SSH_AUTH_SOCK` points at it).
        target: Option<String>,
        /// Fail when the build forwards no such agent.
        required: Option<bool>,
        mode: Option<Scalar>,
        uid: Option<Scalar>,
        gid: Option<Scalar>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TmpfsMount {
        /// Where the tmpfs is mounted.
        tmpfs: String,
        /// Size limit, e.g. `64m` (BuildKit 0.10+).
        size: Option<Scalar>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct BindMount {
        /// Where the files are mounted.
        bind: String,
        /// A stage, an image, or `context` (the default).
        from: Option<String>,
        /// The directory of `from` to mount.
        source: Option<String>,
        /// Allow writes (they are discarded after the step).
        readwrite: Option<bool>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("patternProperties" = { "^x-": {} }))]
    struct CopyStep {
        /// Sources: paths in the build context (or in `from`), globs, or `https://` URLs.
        copy: OneOrMany,
        /// A stage, an image, `context`, or a git URL (`https://host/repo.git#ref[:dir]`).
        from: Option<String>,
        /// Destination; relative to the workdir; a trailing `/` makes it a directory.
        to: Option<String>,
        /// Owner: `user[:group]`, names or ids.
        chown: Option<Scalar>,
        /// Mode: octal, e.g. `"0755"`, or symbolic, e.g. `u+x` or `g-w,o=r` (BuildKit 0.17+).
        chmod: Option<Scalar>,
        /// Patterns of files to leave out (BuildKit 0.9+).
        exclude: Option<OneOrMany>,
        /// Follow symlinks in the sources (default true).
        follow_symlinks: Option<bool>,
        /// Copy into an independent layer (merge op, BuildKit 0.10+; a plain copy before).
        link: Option<bool>,
        /// Keep the sources' paths below the destination (BuildKit 0.9+).
        parents: Option<bool>,
        /// Unpack local tar archives (plain, gzip, bzip2, xz) into the destination, as Dockerfile
        /// `ADD` does; other files are copied.
        unpack: Option<bool>,
        /// Digest a downloaded URL must have: `sha256:...`; with a git `from`, the commit its ref
        /// must be (hex, the full sha or a prefix; BuildKit 0.23+).
        checksum: Option<String>,
        /// Keep `.git` of a git `from`.
        keep_git_dir: Option<bool>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct EnvStep {
        /// Set environment variables from here on (kept in the image).
        env: BTreeMap<String, Option<Scalar>>,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct WorkdirStep {
        /// Change (and create) the working directory.
        workdir: String,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct UserStep {
        /// Run the following steps as this user (and make it the image's user).
        user: Scalar,
    }
}

shape! {
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("patternProperties" = { "^x-": {} }))]
    struct FileStep {
        /// Write a file at this path (relative to the workdir), like Dockerfile `COPY <<EOF`; parent directories are created.
        file: String,
        /// The file's content, as written (no `$` expansion unless `expand: true`).
        content: String,
        /// Expand `$NAME` and `${NAME...}` in the content as in other values (args, then the
        /// stage's environment; `$$` is a `$`), as Dockerfile does in an unquoted `COPY <<EOF`.
        expand: Option<bool>,
        /// Mode: octal, e.g. `0755` (default `0644`), or symbolic, e.g. `u+x` (BuildKit 0.17+).
        chmod: Option<String>,
        /// Owner: `user[:group]`, names or ids.
        chown: Option<Scalar>,
    }
}

/// The JSON schema (draft 2020-12) of a spec.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::json_schema;

    fn def<'a>(schema: &'a Value, name: &str) -> &'a Value {
        &schema["$defs"][name]
    }

    fn props(v: &Value) -> BTreeSet<String> {
        v["properties"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    /// The schema's keys are the `KEYS` the decoder reads (no serde rename sets them apart).
    #[test]
    fn schema_keys_are_the_decoders() {
        let s = json_schema();
        assert_eq!(props(&s), set(super::Spec::KEYS));
        let places: [(&str, &[&str]); 17] = [
            ("ArgDetail", super::ArgDetail::KEYS),
            ("Stage", super::Stage::KEYS),
            ("Healthcheck", super::Healthcheck::KEYS),
            ("RunStep", super::RunStep::KEYS),
            ("CopyStep", super::CopyStep::KEYS),
            ("EnvStep", super::EnvStep::KEYS),
            ("WorkdirStep", super::WorkdirStep::KEYS),
            ("UserStep", super::UserStep::KEYS),
            ("FileStep", super::FileStep::KEYS),
            ("CacheMount", super::CacheMount::KEYS),
            ("SecretMount", super::SecretMount::KEYS),
            ("SshMount", super::SshMount::KEYS),
            ("TmpfsMount", super::TmpfsMount::KEYS),
            ("BindMount", super::BindMount::KEYS),
            ("Step", &[]),
            ("Mount", &[]),
            ("Command", &[]),
        ];
        for (name, keys) in places {
            assert_eq!(props(def(&s, name)), set(keys), "{name}");
        }
        assert_eq!(super::Step::KINDS, ["run", "copy", "env", "workdir", "user", "file"]);
        assert_eq!(super::Mount::KINDS, ["cache", "secret", "ssh", "tmpfs", "bind"]);
    }

    #[test]
    fn unknown_keys_are_closed_except_extensions() {
        let s = json_schema();
        assert_eq!(s["additionalProperties"], false);
        assert!(s["patternProperties"]["^x-"].is_object());
        assert_eq!(def(&s, "Stage")["additionalProperties"], false);
        assert_eq!(s["required"], serde_json::json!(["stages"]));
        assert_eq!(def(&s, "Stage")["required"], serde_json::json!(["from"]));
        assert!(def(&s, "Stage")["properties"]["from"]["description"].as_str().unwrap().contains("scratch"));
    }
}
