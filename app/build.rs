//! Generates the `i18n` module from `locales/*.json` (leptos_i18n), and fails the build when a
//! language lacks a key English has, or has one English lacks. (leptos_i18n itself only warns and
//! falls back to English; a voter must never meet an English sentence by accident.)

use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::collections::BTreeSet;
use std::error::Error;
use std::path::{Path, PathBuf};

/// English first: the default, and the language every other file is checked against.
const LOCALES: [&str; 10] = ["en", "es", "zh", "hi", "ja", "km", "ko", "tl", "th", "vi"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=locales");
    let dir = Path::new("locales");
    let english = keys(&dir.join("en.json"))?;
    let mut problems = Vec::new();
    for locale in &LOCALES[1..] {
        let theirs = keys(&dir.join(format!("{locale}.json")))?;
        for k in english.difference(&theirs) {
            problems.push(format!("locales/{locale}.json lacks the key {k}"));
        }
        for k in theirs.difference(&english) {
            problems.push(format!(
                "locales/{locale}.json has the key {k}, which en.json lacks"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n").into());
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?).join("i18n");
    let config = Config::new(LOCALES[0])?
        .add_locales(LOCALES[1..].iter().copied())?
        .locales_path("locales")
        .parse_options(ParseOptions::default().interpolate_display(true));
    let infos = TranslationsInfos::parse(config)?;
    infos.emit_diagnostics();
    infos.rerun_if_locales_changed();
    infos.generate_i18n_module(out)?;
    Ok(())
}

/// Every key path in a locale file, as `a.b.c`; a value that is `null` counts as missing.
fn keys(path: &Path) -> Result<BTreeSet<String>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeSet::new();
    collect("", &value, &mut out);
    Ok(out)
}

fn collect(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect(&path, v, out);
            }
        }
        serde_json::Value::Null => {}
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}
