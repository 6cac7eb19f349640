//! Writes `ui/src/lib/bindings/commands.ts`, the window's typed calls, from the `#[tauri::command]`
//! functions in `src/lib.rs`: their names, their arguments' names and types, and what they return.
//! The argument and result types are ts-rs's, so the front end hand-writes no command and no type.
//! `make test` fails when the committed file differs from what this writes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

#[test]
fn commands_ts_matches_the_commands() {
    let root = env!("CARGO_MANIFEST_DIR");
    let source = std::fs::read_to_string(format!("{root}/src/lib.rs")).unwrap();
    let file = syn::parse_file(&source).unwrap();
    let mut imports = BTreeSet::new();
    let mut lines = Vec::new();
    for item in &file.items {
        let syn::Item::Fn(f) = item else { continue };
        if !f.attrs.iter().any(|a| a.path().segments.iter().any(|s| s.ident == "command")) {
            continue;
        }
        lines.push(command(f, &mut imports));
    }
    assert!(lines.len() > 10, "the commands were not found in src/lib.rs");

    let mut out = String::from(
        "// Generated from src-tauri/src/lib.rs by src-tauri/tests/bindings.rs (cargo test). Do not edit.\n\
         import { Channel, invoke } from '@tauri-apps/api/core';\n",
    );
    for t in &imports {
        writeln!(out, "import type {{ {t} }} from './{t}';").unwrap();
    }
    out.push_str(
        "\nfunction streaming<T, E>(cmd: string, args: Record<string, unknown>, onEvent: (e: E) => void): Promise<T> {\n  \
         // Subscribed before the call, so no early event is lost.\n  \
         const events = new Channel<E>();\n  \
         events.onmessage = onEvent;\n  \
         return invoke<T>(cmd, { ...args, events });\n}\n\nexport const commands = {\n",
    );
    for l in lines {
        writeln!(out, "  {l}").unwrap();
    }
    out.push_str("};\n");

    let path = format!("{root}/../ui/src/lib/bindings/commands.ts");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(out.as_str()) {
        std::fs::write(&path, out).unwrap();
    }
}

/// One command as a TypeScript function: `name: (args) => invoke<Result>('name', { args })`.
fn command(f: &syn::ItemFn, imports: &mut BTreeSet<String>) -> String {
    let name = f.sig.ident.to_string();
    let mut params = Vec::new();
    let mut keys = Vec::new();
    let mut events = None;
    for input in &f.sig.inputs {
        let syn::FnArg::Typed(arg) = input else { panic!("{name}: a command takes no self") };
        let syn::Pat::Ident(id) = &*arg.pat else { panic!("{name}: plain argument names only") };
        let (ty_name, inner) = head(&arg.ty);
        match ty_name.as_str() {
            // Given by Tauri, not by the window.
            "State" | "AppHandle" | "Window" | "WebviewWindow" => continue,
            "Channel" => {
                events = Some(ts(inner[0], imports));
                continue;
            }
            _ => {}
        }
        let key = camel(&id.ident.to_string());
        params.push(format!("{key}: {}", ts(&arg.ty, imports)));
        keys.push(key);
    }
    let result = match &f.sig.output {
        syn::ReturnType::Default => "null".to_string(),
        syn::ReturnType::Type(_, ty) => match head(ty) {
            (n, inner) if n == "CommandResult" => ts(inner[0], imports),
            _ => ts(ty, imports),
        },
    };
    let args = if keys.is_empty() { String::new() } else { format!(", {{ {} }}", keys.join(", ")) };
    match events {
        Some(ev) => {
            params.push(format!("onEvent: (e: {ev}) => void"));
            format!(
                "{}: ({}) => streaming<{result}, {ev}>('{name}', {{ {} }}, onEvent),",
                camel(&name),
                params.join(", "),
                keys.join(", ")
            )
        }
        None => format!("{}: ({}) => invoke<{result}>('{name}'{args}),", camel(&name), params.join(", ")),
    }
}

/// A type's last path segment and its generic arguments.
fn head(ty: &syn::Type) -> (String, Vec<&syn::Type>) {
    match ty {
        syn::Type::Path(p) => {
            let seg = p.path.segments.last().unwrap();
            let args = match &seg.arguments {
                syn::PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|g| match g {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (seg.ident.to_string(), args)
        }
        _ => (String::new(), Vec::new()),
    }
}

/// The TypeScript ts-rs writes for a Rust type (numbers as `number`: TS_RS_LARGE_INT).
fn ts(ty: &syn::Type, imports: &mut BTreeSet<String>) -> String {
    if let syn::Type::Tuple(t) = ty {
        if t.elems.is_empty() {
            return "null".into();
        }
        let parts: Vec<String> = t.elems.iter().map(|e| ts(e, imports)).collect();
        return format!("[{}]", parts.join(", "));
    }
    let (name, inner) = head(ty);
    match name.as_str() {
        "String" | "PathBuf" | "str" => "string".into(),
        "bool" => "boolean".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" | "f32" | "f64" => {
            "number".into()
        }
        "Option" => format!("{} | null", ts(inner[0], imports)),
        "Vec" => format!("Array<{}>", ts(inner[0], imports)),
        "BTreeMap" | "HashMap" => format!("Record<{}, {}>", ts(inner[0], imports), ts(inner[1], imports)),
        "" => panic!("a type this generator does not know: {}", quote(ty)),
        other => {
            assert!(inner.is_empty(), "generic type {other}: give it a ts-rs type of its own");
            imports.insert(other.to_string());
            other.to_string()
        }
    }
}

fn quote(ty: &syn::Type) -> String {
    use quote::ToTokens;
    ty.to_token_stream().to_string()
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
