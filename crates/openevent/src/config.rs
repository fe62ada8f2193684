//! Layered configuration: the TOML file of `serve` and `outbox run-due`, with environment
//! variables `OPENEVENT_<SECTION>_<KEY>` (top-level keys: `OPENEVENT_<KEY>`) on top, and the
//! `--print-config` report of where each setting came from.
//!
//! The file and the environment are merged into one tree that is deserialised by serde into the
//! same types as the file alone, so a value from the environment is typed and validated exactly
//! like the file's: the target type asks for a `u16`, a `bool` or an enum, and the variable's text
//! is parsed as that (no guessing from the text, so `OPENEVENT_SMTP_USERNAME=12345` stays a string).
//! Which keys exist is read from the types' own serde field lists, never kept by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserializer, forward_to_deserialize_any};

/// Every environment variable of openevent starts with this.
pub const ENV_PREFIX: &str = "OPENEVENT_";

/// The log filter, read by the logger rather than by clap or the configuration.
pub const LOG_ENV: &str = "OPENEVENT_LOG";

/// The environment variable of a configuration key: `OPENEVENT_SMTP_HOST` for `smtp.host`,
/// `OPENEVENT_RATE_LIMIT_PER_MINUTE` for the top-level `rate_limit_per_minute`.
pub fn var_name(section: Option<&str>, key: &str) -> String {
    match section {
        Some(s) => format!(
            "{ENV_PREFIX}{}_{}",
            s.to_ascii_uppercase(),
            key.to_ascii_uppercase()
        ),
        None => format!("{ENV_PREFIX}{}", key.to_ascii_uppercase()),
    }
}

/// The `OPENEVENT_*` variables of the process, read once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct EnvVars(BTreeMap<String, OsString>);

impl EnvVars {
    pub fn from_process() -> Self {
        EnvVars(
            std::env::vars_os()
                .filter_map(|(k, v)| {
                    let k = k.into_string().ok()?;
                    k.starts_with(ENV_PREFIX).then_some((k, v))
                })
                .collect(),
        )
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        EnvVars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&OsString> {
        self.0.get(name)
    }

    /// The variables that are set but that nothing in `known` reads (names only: a value may be
    /// a secret).
    pub fn unused(&self, known: &BTreeSet<String>) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| !known.contains(*k))
            .cloned()
            .collect()
    }
}

/// The field names of a struct as serde knows them (its `#[serde(rename)]`s applied), read by
/// letting it start to deserialise from a probe that stops at `deserialize_struct`.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// The keys of a configuration file: top-level keys, and sections (`[smtp]`) with theirs.
#[derive(Debug, Clone)]
pub struct Schema {
    pub top: Vec<&'static str>,
    pub sections: Vec<(&'static str, &'static [&'static str])>,
}

impl Schema {
    /// `T`'s fields; those named in `sections` are tables with the given keys, the rest are
    /// top-level values.
    pub fn new<T: DeserializeOwned>(
        sections: Vec<(&'static str, &'static [&'static str])>,
    ) -> Self {
        let all = fields_of::<T>();
        debug_assert!(
            sections.iter().all(|(s, _)| all.contains(s)),
            "every section is a field of the configuration"
        );
        let top = all
            .iter()
            .copied()
            .filter(|f| !sections.iter().any(|(s, _)| s == f))
            .collect();
        Schema { top, sections }
    }

    /// Every key with its section (`None` at the top level), in file order.
    pub fn keys(&self) -> impl Iterator<Item = (Option<&'static str>, &'static str)> + '_ {
        self.top.iter().map(|k| (None, *k)).chain(
            self.sections
                .iter()
                .flat_map(|(s, keys)| keys.iter().map(move |k| (Some(*s), *k))),
        )
    }

    /// Every environment variable a key can be set with.
    pub fn var_names(&self) -> impl Iterator<Item = String> + '_ {
        self.keys().map(|(s, k)| var_name(s, k))
    }
}

/// Where a setting's value came from. Precedence, highest first: flag, env, file, default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(String),
    File,
    Default,
}

impl Source {
    fn label(&self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env(_) => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Table(BTreeMap<String, Node>),
    File(toml::Value),
    Env { var: String, raw: String },
}

fn to_nodes(table: toml::Table) -> BTreeMap<String, Node> {
    table
        .into_iter()
        .map(|(k, v)| {
            let node = match v {
                toml::Value::Table(t) => Node::Table(to_nodes(t)),
                other => Node::File(other),
            };
            (k, node)
        })
        .collect()
}

/// The configuration file with the environment on top, before it is typed.
#[derive(Debug, Clone)]
pub struct Layers {
    root: BTreeMap<String, Node>,
    file: Option<PathBuf>,
    from_env: bool,
}

impl Layers {
    /// Merges the file (`path` and its text) and the environment. A variable that is set is
    /// used even when empty, as clap does for the options. Fails on a file that is not TOML and
    /// on a variable that is not UTF-8.
    pub fn build(
        file: Option<(&Path, &str)>,
        env: &EnvVars,
        schema: &Schema,
    ) -> Result<Layers, String> {
        let root = match file {
            Some((path, text)) => {
                let table: toml::Table =
                    toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
                to_nodes(table)
            }
            None => BTreeMap::new(),
        };
        let mut layers = Layers {
            root,
            file: file.map(|(p, _)| p.to_owned()),
            from_env: false,
        };
        for (section, key) in schema.keys() {
            let var = var_name(section, key);
            let Some(value) = env.get(&var) else {
                continue;
            };
            let raw = value
                .to_str()
                .ok_or_else(|| format!("environment variable {var} is not valid UTF-8"))?
                .to_owned();
            let node = Node::Env { var, raw };
            let table = match section {
                None => &mut layers.root,
                Some(s) => {
                    let entry = layers
                        .root
                        .entry(s.to_owned())
                        .or_insert_with(|| Node::Table(BTreeMap::new()));
                    if !matches!(entry, Node::Table(_)) {
                        // `smtp = 5` in the file: the environment's section replaces it.
                        *entry = Node::Table(BTreeMap::new());
                    }
                    match entry {
                        Node::Table(t) => t,
                        _ => unreachable!("made a table above"),
                    }
                }
            };
            table.insert(key.to_owned(), node);
            layers.from_env = true;
        }
        Ok(layers)
    }

    /// Whether any value comes from the environment.
    pub fn uses_env(&self) -> bool {
        self.from_env
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Types the merged tree. Errors name the key and where its value came from: the file, or
    /// the environment variable and the type it should have held.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, String> {
        let ctx = Ctx {
            file: self.file.as_deref(),
        };
        T::deserialize(TableDe {
            entries: &self.root,
            path: "",
            ctx: &ctx,
        })
        .map_err(|e| match (e.stage, &self.file) {
            (Stage::Final, _) | (_, None) => e.msg,
            (_, Some(file)) => format!("{}: {}", file.display(), e.msg),
        })
    }

    /// Where the value of `key` (in `section`, or at the top level) came from.
    pub fn source(&self, section: Option<&str>, key: &str) -> Source {
        let node = match section {
            None => self.root.get(key),
            Some(s) => match self.root.get(s) {
                Some(Node::Table(t)) => t.get(key),
                _ => None,
            },
        };
        match node {
            Some(Node::Env { var, .. }) => Source::Env(var.clone()),
            Some(_) => Source::File,
            None => Source::Default,
        }
    }

    /// A problem found after typing (`smtp.port`, "must not be 0"), prefixed with where the
    /// value came from.
    pub fn problem(&self, dotted_key: &str, message: &str) -> String {
        let (section, key) = match dotted_key.split_once('.') {
            Some((s, k)) => (Some(s), k),
            None => (None, dotted_key),
        };
        match (self.source(section, key), &self.file) {
            (Source::Env(var), _) => {
                format!("environment variable {var}: {dotted_key}: {message}")
            }
            (Source::File, Some(file)) => format!("{}: {dotted_key}: {message}", file.display()),
            _ => format!("{dotted_key} (default): {message}"),
        }
    }
}

struct Ctx<'a> {
    file: Option<&'a Path>,
}

/// A deserialisation error and how much of its context it already carries.
#[derive(Debug)]
struct Error {
    msg: String,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// From a visitor: says nothing of where.
    Raw,
    /// Names its key.
    Placed,
    /// Names its key and source: nothing is added.
    Final,
    /// A required key is absent from both the file and the environment.
    Missing(&'static str),
}

impl Error {
    fn placed(msg: String) -> Self {
        Error {
            msg,
            stage: Stage::Placed,
        }
    }
    fn finished(msg: String) -> Self {
        Error {
            msg,
            stage: Stage::Final,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            msg: msg.to_string(),
            stage: Stage::Raw,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Error {
            msg: format!("missing field `{field}`"),
            stage: Stage::Missing(field),
        }
    }
}

/// A table: the top level or a section.
struct TableDe<'a> {
    entries: &'a BTreeMap<String, Node>,
    /// `""` or `"smtp"`.
    path: &'a str,
    ctx: &'a Ctx<'a>,
}

impl TableDe<'_> {
    fn place(&self, e: Error) -> Error {
        match e.stage {
            Stage::Missing(field) => {
                let (key, var, table) = if self.path.is_empty() {
                    (
                        field.to_owned(),
                        var_name(None, field),
                        "the top level".to_owned(),
                    )
                } else {
                    (
                        format!("{}.{field}", self.path),
                        var_name(Some(self.path), field),
                        format!("[{}]", self.path),
                    )
                };
                let file = self
                    .ctx
                    .file
                    .map_or("the config file (--config)".to_owned(), |f| {
                        f.display().to_string()
                    });
                Error::finished(format!(
                    "{key} is missing: set `{field}` in {table} of {file} or the environment variable {var}"
                ))
            }
            Stage::Raw if !self.path.is_empty() => {
                Error::placed(format!("{}: {}", self.path, e.msg))
            }
            _ => e,
        }
    }
}

impl<'de> Deserializer<'de> for TableDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let access = TableAccess {
            iter: self.entries.iter(),
            pending: None,
            path: self.path,
            ctx: self.ctx,
        };
        visitor.visit_map(access).map_err(|e| self.place(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

struct TableAccess<'a> {
    iter: std::collections::btree_map::Iter<'a, String, Node>,
    pending: Option<(&'a String, &'a Node)>,
    path: &'a str,
    ctx: &'a Ctx<'a>,
}

impl<'de> MapAccess<'de> for TableAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, node)) => {
                self.pending = Some((key, node));
                seed.deserialize(key.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, node)) = self.pending.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        let dotted = if self.path.is_empty() {
            key.clone()
        } else {
            format!("{}.{key}", self.path)
        };
        match node {
            Node::Table(entries) => seed.deserialize(TableDe {
                entries,
                path: &dotted,
                ctx: self.ctx,
            }),
            Node::File(value) => seed
                .deserialize(value.clone())
                .map_err(|e| Error::placed(format!("{dotted}: {}", e.message()))),
            Node::Env { var, raw } => seed.deserialize(EnvDe { var, raw }),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// One variable's text, parsed as whatever type the key has.
struct EnvDe<'a> {
    var: &'a str,
    raw: &'a str,
}

impl EnvDe<'_> {
    fn expected(&self, what: &str) -> Error {
        Error::finished(format!(
            "environment variable {}: expected {what}, found {:?}",
            self.var, self.raw
        ))
    }

    fn wrap(&self, e: Error) -> Error {
        match e.stage {
            Stage::Final => e,
            _ => Error::finished(format!("environment variable {}: {}", self.var, e.msg)),
        }
    }

    /// Arrays and inline tables are written as in TOML: `[1, 2]`, `{ a = 1 }`.
    fn toml_literal<'de, V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        let value: toml::Value = self.raw.parse().map_err(|_| {
            self.expected("a TOML array or inline table such as [1, 2] or { a = 1 }")
        })?;
        de::Deserializer::deserialize_any(value, visitor).map_err(|e| {
            Error::finished(format!(
                "environment variable {}: {}",
                self.var,
                e.message()
            ))
        })
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $ty:ty, $what:expr;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.raw.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n).map_err(|e| self.wrap(e)),
                    Err(_) => Err(self.expected(&$what)),
                }
            }
        )*
    };
}

fn integer<T: fmt::Display>(min: T, max: T) -> String {
    format!("an integer from {min} to {max}")
}

impl<'de> Deserializer<'de> for EnvDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.raw).map_err(|e| self.wrap(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.raw {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.expected("a boolean (true or false)")),
        }
    }

    parse_number! {
        deserialize_i8 visit_i8 i8, integer(i8::MIN, i8::MAX);
        deserialize_i16 visit_i16 i16, integer(i16::MIN, i16::MAX);
        deserialize_i32 visit_i32 i32, integer(i32::MIN, i32::MAX);
        deserialize_i64 visit_i64 i64, integer(i64::MIN, i64::MAX);
        deserialize_i128 visit_i128 i128, integer(i128::MIN, i128::MAX);
        deserialize_u8 visit_u8 u8, integer(u8::MIN, u8::MAX);
        deserialize_u16 visit_u16 u16, integer(u16::MIN, u16::MAX);
        deserialize_u32 visit_u32 u32, integer(u32::MIN, u32::MAX);
        deserialize_u64 visit_u64 u64, integer(u64::MIN, u64::MAX);
        deserialize_u128 visit_u128 u128, integer(u128::MIN, u128::MAX);
        deserialize_f32 visit_f32 f32, "a number such as 0.5";
        deserialize_f64 visit_f64 f64, "a number such as 0.5";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.raw.starts_with('{') {
            return self.toml_literal(visitor);
        }
        visitor
            .visit_enum(self.raw.into_deserializer())
            .map_err(|e| self.wrap(e))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.toml_literal(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.toml_literal(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.toml_literal(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.toml_literal(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.toml_literal(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor
            .visit_bytes(self.raw.as_bytes())
            .map_err(|e| self.wrap(e))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        char str string unit unit_struct identifier
    }
}

/// One line of `--print-config`.
#[derive(Debug, Clone)]
pub struct Row {
    /// `--bind`, `rate_limit_per_minute`, `smtp.host`.
    pub setting: String,
    /// A TOML literal, or a note in parentheses (`(unset)`).
    pub value: String,
    pub source: Source,
    /// The environment variable that sets it (empty when none does).
    pub variable: String,
}

/// Key names whose values are secrets themselves (rather than the name of a variable holding
/// one, `*_env`); none exists today, and one added later is never printed.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let words: Vec<&str> = key.split(['_', '-']).collect();
    !key.ends_with("_env")
        && (words.windows(2).any(|w| w == ["api", "key"])
            || words.iter().any(|w| {
                [
                    "password",
                    "passwd",
                    "secret",
                    "token",
                    "apikey",
                    "credentials",
                ]
                .contains(w)
            }))
}

/// `scheme://user:password@host/…` → `scheme://user:<redacted>@host/…`.
pub fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let redacted = if userinfo.contains(':') {
                format!("{user}:<redacted>")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{redacted}@{host}{tail}")
        }
        None => text.to_owned(),
    }
}

/// How `--print-config` shows a value: secrets never, URLs without their password, and for a
/// key naming a secret's variable whether that variable is set.
pub fn show_value(key: &str, value: &toml::Value, is_set: &dyn Fn(&str) -> bool) -> String {
    if is_secret_key(key) {
        return "<redacted>".to_owned();
    }
    match value {
        toml::Value::String(s) => {
            let shown = toml::Value::String(redact_url(s)).to_string();
            if key.ends_with("_env") {
                let state = if is_set(s) { "set" } else { "NOT SET" };
                format!("{shown} (secret {state})")
            } else {
                shown
            }
        }
        other => other.to_string(),
    }
}

/// The global and subcommand options of `cmd` (a built clap command) as `matches` resolved them.
pub fn option_rows(cmd: &clap::Command, matches: &clap::ArgMatches, skip: &[&str]) -> Vec<Row> {
    use clap::parser::ValueSource;
    let mut rows = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if skip.contains(&id)
            || matches!(
                arg.get_action(),
                clap::ArgAction::Help | clap::ArgAction::Version
            )
        {
            continue;
        }
        let variable = arg
            .get_env()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(variable.clone()),
            _ => Source::Default,
        };
        let values: Vec<String> = matches
            .try_get_raw(id)
            .ok()
            .flatten()
            .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = if values.is_empty() {
            "(unset)".to_owned()
        } else if !arg.get_action().takes_values() {
            values.join(", ")
        } else {
            values
                .iter()
                .map(|v| show_value(id, &toml::Value::String(v.clone()), &|_| false))
                .collect::<Vec<_>>()
                .join(", ")
        };
        rows.push(Row {
            setting: format!("--{long}"),
            value,
            source,
            variable,
        });
    }
    rows
}

/// Every environment variable clap reads for `cmd` and its subcommands.
pub fn clap_env_names(cmd: &clap::Command) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(clap_env_names(sub));
    }
    out
}

/// The report: a header, one aligned line per setting, a footer.
pub fn render(header: &[String], rows: &[Row], footer: &[String]) -> String {
    use std::fmt::Write as _;
    let titles = ["setting", "value", "source", "variable"];
    let width = |f: &dyn Fn(&Row) -> usize, title: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let w_setting = width(&|r| r.setting.chars().count(), titles[0]);
    let w_value = width(&|r| r.value.chars().count(), titles[1]);
    let w_source = width(&|r| r.source.label().len(), titles[2]);
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "{:<w_setting$}  {:<w_value$}  {:<w_source$}  {}",
        titles[0], titles[1], titles[2], titles[3]
    );
    for r in rows {
        let line = format!(
            "{:<w_setting$}  {:<w_value$}  {:<w_source$}  {}",
            r.setting,
            r.value,
            r.source.label(),
            r.variable
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for line in footer {
        let _ = writeln!(out, "# {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Conf {
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default)]
        mail: Option<Mail>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Mail {
        host: String,
        #[serde(default)]
        port: Option<u16>,
        mode: Mode,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        tls: bool,
        #[serde(default)]
        ratio: f64,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Plain,
        Secure,
    }

    fn schema() -> Schema {
        Schema::new::<Conf>(vec![("mail", fields_of::<Mail>())])
    }

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Conf, String> {
        let layers = Layers::build(
            file.map(|t| (Path::new("c.toml"), t)),
            &EnvVars::from_pairs(env),
            &schema(),
        )?;
        layers.deserialize()
    }

    #[test]
    fn the_schema_comes_from_serde() {
        let s = schema();
        assert_eq!(s.top, vec!["limit"]);
        let vars: Vec<String> = s.var_names().collect();
        assert!(vars.contains(&"OPENEVENT_LIMIT".to_owned()));
        assert!(vars.contains(&"OPENEVENT_MAIL_HOST".to_owned()));
    }

    #[test]
    fn env_overrides_the_file_and_is_typed_by_the_target() {
        let c = load(
            Some("limit = 5\n[mail]\nhost = \"a\"\nmode = \"plain\"\nport = 25\n"),
            &[
                ("OPENEVENT_LIMIT", "7"),
                ("OPENEVENT_MAIL_PORT", "2525"),
                ("OPENEVENT_MAIL_USER", "12345"),
                ("OPENEVENT_MAIL_TLS", "true"),
                ("OPENEVENT_MAIL_RATIO", "0.25"),
                ("OPENEVENT_MAIL_TAGS", "[\"x\", \"y\"]"),
            ],
        )
        .unwrap();
        assert_eq!(c.limit, Some(7));
        let mail = c.mail.unwrap();
        assert_eq!(mail.host, "a");
        assert_eq!(mail.port, Some(2525));
        assert_eq!(mail.user.as_deref(), Some("12345"));
        assert!(mail.tls);
        assert_eq!(mail.ratio, 0.25);
        assert_eq!(mail.tags, vec!["x", "y"]);
        assert_eq!(mail.mode, Mode::Plain);
    }

    #[test]
    fn an_empty_variable_is_a_value() {
        let c = load(
            None,
            &[
                ("OPENEVENT_MAIL_HOST", "h"),
                ("OPENEVENT_MAIL_MODE", "plain"),
                ("OPENEVENT_MAIL_USER", ""),
            ],
        )
        .unwrap();
        assert_eq!(c.mail.unwrap().user.as_deref(), Some(""));
        let e = load(None, &[("OPENEVENT_LIMIT", "")]).unwrap_err();
        assert!(
            e.contains("OPENEVENT_LIMIT") && e.contains("found \"\""),
            "{e}"
        );
    }

    #[test]
    fn a_section_can_come_from_the_environment_alone() {
        let c = load(
            None,
            &[
                ("OPENEVENT_MAIL_HOST", "h"),
                ("OPENEVENT_MAIL_MODE", "secure"),
            ],
        )
        .unwrap();
        assert_eq!(c.mail.unwrap().mode, Mode::Secure);
        assert_eq!(
            load(None, &[]).unwrap(),
            Conf {
                limit: None,
                mail: None
            }
        );
    }

    #[test]
    fn errors_name_the_variable_or_the_file() {
        let e = load(None, &[("OPENEVENT_LIMIT", "many")]).unwrap_err();
        assert!(
            e.contains("OPENEVENT_LIMIT") && e.contains("integer from 0 to 4294967295"),
            "{e}"
        );
        let e = load(
            None,
            &[
                ("OPENEVENT_MAIL_PORT", "70000"),
                ("OPENEVENT_MAIL_HOST", "h"),
                ("OPENEVENT_MAIL_MODE", "plain"),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("OPENEVENT_MAIL_PORT") && e.contains("65535"),
            "{e}"
        );
        let e = load(
            None,
            &[
                ("OPENEVENT_MAIL_TLS", "yes"),
                ("OPENEVENT_MAIL_HOST", "h"),
                ("OPENEVENT_MAIL_MODE", "plain"),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("OPENEVENT_MAIL_TLS") && e.contains("true or false"),
            "{e}"
        );
        let e = load(
            None,
            &[("OPENEVENT_MAIL_MODE", "tls"), ("OPENEVENT_MAIL_HOST", "h")],
        )
        .unwrap_err();
        assert!(
            e.contains("OPENEVENT_MAIL_MODE") && e.contains("plain"),
            "{e}"
        );
        let e = load(None, &[("OPENEVENT_MAIL_HOST", "h")]).unwrap_err();
        assert!(
            e.contains("mail.mode is missing") && e.contains("OPENEVENT_MAIL_MODE"),
            "{e}"
        );
        let e = load(
            Some("[mail]\nhost = 1\nmode = \"plain\"\n"),
            &[("OPENEVENT_MAIL_PORT", "1")],
        )
        .unwrap_err();
        assert!(e.starts_with("c.toml: mail.host: invalid type"), "{e}");
        let e = load(
            Some("[mail]\nhots = \"h\"\n"),
            &[("OPENEVENT_MAIL_MODE", "plain")],
        )
        .unwrap_err();
        assert!(e.starts_with("c.toml: mail: unknown field `hots`"), "{e}");
    }

    #[test]
    fn sources_are_tracked_per_key() {
        let layers = Layers::build(
            Some((
                Path::new("c.toml"),
                "[mail]\nhost = \"a\"\nmode = \"plain\"\n",
            )),
            &EnvVars::from_pairs(&[("OPENEVENT_MAIL_HOST", "b")]),
            &schema(),
        )
        .unwrap();
        assert_eq!(
            layers.source(Some("mail"), "host"),
            Source::Env("OPENEVENT_MAIL_HOST".into())
        );
        assert_eq!(layers.source(Some("mail"), "mode"), Source::File);
        assert_eq!(layers.source(Some("mail"), "port"), Source::Default);
        assert_eq!(layers.source(None, "limit"), Source::Default);
        assert!(
            layers
                .problem("mail.host", "bad")
                .starts_with("environment variable OPENEVENT_MAIL_HOST: mail.host: bad")
        );
        assert!(
            layers
                .problem("mail.mode", "bad")
                .starts_with("c.toml: mail.mode: bad")
        );
    }

    #[test]
    fn secrets_and_url_passwords_are_not_shown() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example/openevent"),
            "postgres://app:<redacted>@db.example/openevent"
        );
        assert_eq!(redact_url("sqlite://openevent.db"), "sqlite://openevent.db");
        let set = |name: &str| name == "SET_ONE";
        let v = |s: &str| toml::Value::String(s.to_owned());
        assert_eq!(show_value("password", &v("hunter2"), &set), "<redacted>");
        assert_eq!(show_value("webhook_secret", &v("s"), &set), "<redacted>");
        assert_eq!(show_value("api_key", &v("s"), &set), "<redacted>");
        assert_eq!(
            show_value("max_tokens", &toml::Value::Integer(300), &set),
            "300"
        );
        assert_eq!(
            show_value("password_env", &v("SET_ONE"), &set),
            "\"SET_ONE\" (secret set)"
        );
        assert_eq!(
            show_value("api_key_env", &v("OTHER"), &set),
            "\"OTHER\" (secret NOT SET)"
        );
    }
}
