//! Reply templates: minijinja with strict undefined variables, one file per language with
//! `=== topic` sections. The venue may replace any of them; a missing language falls back to
//! English. Every draft ends with a status line rendered here, not by the template.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::understanding::Language;

const BUILTIN: [(Language, &str); 2] = [
    (Language::En, include_str!("templates/en.txt")),
    (Language::De, include_str!("templates/de.txt")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template file for '{lang}' has text before its first '=== topic' line")]
    NoHeader { lang: &'static str },
    #[error("template {name}: {source}")]
    Invalid {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("no template '{0}' in English")]
    Missing(String),
}

/// Instructions one render may execute: a venue's template cannot loop for hours on every
/// message (the built-in ones use a few hundred).
pub const FUEL: u64 = 100_000;

pub struct Templates {
    env: Environment<'static>,
    names: BTreeSet<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("names", &self.names)
            .finish()
    }
}

pub fn lang_code(lang: Language) -> &'static str {
    match lang {
        Language::En => "en",
        Language::De => "de",
        Language::Fr => "fr",
        Language::It => "it",
        Language::Es => "es",
    }
}

fn sections(lang: Language, text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(topic) = line.strip_prefix("=== ") {
            out.push((
                format!("{}/{}", lang_code(lang), topic.trim()),
                String::new(),
            ));
        } else {
            let Some((_, body)) = out.last_mut() else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(TemplateError::NoHeader {
                    lang: lang_code(lang),
                });
            };
            body.push_str(line);
            body.push('\n');
        }
    }
    Ok(out)
}

impl Templates {
    /// The built-in template files, per language (a venue copies and edits these).
    pub fn builtin_sources() -> &'static [(Language, &'static str)] {
        &BUILTIN
    }

    pub fn builtin() -> Templates {
        Templates::with_overrides(&[]).expect("built-in templates compile")
    }

    /// The built-in templates with the venue's replacements (whole files per language).
    pub fn with_overrides(files: &[(Language, String)]) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        let mut names = BTreeSet::new();
        let builtin = BUILTIN.iter().map(|(l, t)| (*l, (*t).to_owned()));
        for (lang, text) in builtin.chain(files.iter().cloned()) {
            for (name, body) in sections(lang, &text)? {
                env.add_template_owned(name.clone(), body)
                    .map_err(|source| TemplateError::Invalid {
                        name: name.clone(),
                        source,
                    })?;
                names.insert(name);
            }
        }
        Ok(Templates { env, names })
    }

    /// Renders `topic` in `lang` (English when the venue has no such template in `lang`).
    pub fn render<C: Serialize>(
        &self,
        lang: Language,
        topic: &str,
        ctx: &C,
    ) -> Result<String, TemplateError> {
        let wanted = format!("{}/{topic}", lang_code(lang));
        let name = if self.names.contains(&wanted) {
            wanted
        } else {
            format!("en/{topic}")
        };
        let tmpl = self
            .env
            .get_template(&name)
            .map_err(|_| TemplateError::Missing(topic.to_owned()))?;
        let text = tmpl
            .render(minijinja::value::Serde(ctx))
            .map_err(|source| TemplateError::Invalid { name, source })?;
        Ok(tidy(&text))
    }

    pub fn has(&self, lang: Language, topic: &str) -> bool {
        self.names.contains(&format!("{}/{topic}", lang_code(lang)))
    }
}

/// Collapses the blank lines template conditionals leave behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}
