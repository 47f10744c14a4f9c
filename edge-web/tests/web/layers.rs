//! The web edge's modules import only the layers below their own, as `src/lib.rs` lists them:
//! read from the sources, so that a new import that goes up (or from the pages to the API, or
//! back) fails here rather than tangling the house.

use std::{fs, path::Path};

/// Each top-level module and its layer, lowest first; pages and the API share one.
const LAYERS: [(&str, u8); 13] = [
    ("config", 0),
    ("i18n", 0),
    ("static_files", 0),
    ("error", 1),
    ("core_client", 2),
    ("state", 3),
    ("view", 4),
    ("http", 5),
    ("pages", 6),
    ("api", 6),
    ("lib", 7),
    ("cli", 8),
    ("main", 9),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

/// The top-level modules named by `crate::` paths in `source`, comments and tests left out.
fn imported(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String =
        code.lines().filter(|line| !line.trim_start().starts_with("//")).map(|line| format!("{line}\n")).collect();
    let mut modules = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c, d::{e, f}}`: the first name of each entry at the group's top.
            let mut depth = 0;
            let mut entry_start = true;
            let mut name = String::new();
            for c in group.chars() {
                let in_name = c.is_alphanumeric() || c == '_';
                if in_name && entry_start && depth == 0 {
                    name.push(c);
                    continue;
                }
                if !name.is_empty() {
                    modules.push(std::mem::take(&mut name));
                    entry_start = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    _ => {}
                }
            }
        } else {
            modules.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    modules
}

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let own = relative.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        let own_layer = layer(own).unwrap_or_else(|| panic!("{own} is in no layer of this test's list"));
        for module in imported(&fs::read_to_string(file).unwrap()) {
            let Some(their_layer) = layer(&module) else { continue };
            let sideways = their_layer == own_layer && module != own;
            if their_layer > own_layer || sideways {
                upward.push(format!("{} imports {module}", relative.display()));
            }
        }
    }
    assert!(files.len() > 30, "the sources were found: {files:?}");
    assert!(upward.is_empty(), "imports that go up or sideways: {upward:#?}");
}

#[test]
fn the_reader_of_imports_sees_groups_and_paths() {
    let source = "//! See [`crate::pages`].\nuse crate::{\n    error::AppError,\n    http::{csrf::CsrfForm, visitor::Visitor},\n    state::AppState,\n};\nfn f() { crate::view::layout::x(); }\n#[cfg(test)]\nuse crate::api;";
    assert_eq!(imported(source), ["error", "http", "state", "view"]);
}
