//! Compiles every `.proto` under `assistchat/v1/` with protox (pure Rust, so no system `protoc`
//! is needed), and writes the file descriptor set next to the generated code for reflection.

use std::{env, fs, io, path::PathBuf};

use prost::Message;

fn main() -> io::Result<()> {
    let dir = PathBuf::from("assistchat/v1");
    let mut files: Vec<PathBuf> =
        fs::read_dir(&dir)?.map(|entry| entry.map(|e| e.path())).collect::<io::Result<_>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    files.sort();
    println!("cargo:rerun-if-changed={}", dir.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    // For reflection: with the imported well-known types, so that a client knowing nothing can
    // resolve every type, and with source info, so that it shows the comments too.
    let mut compiler = protox::Compiler::new(["."]).map_err(io::Error::other)?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files).map_err(io::Error::other)?;
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("assistchat_descriptor.bin"), compiler.file_descriptor_set().encode_to_vec())?;

    // For code: only the project's own files; prost_types supplies the well-known types.
    let descriptors = protox::compile(&files, ["."]).map_err(io::Error::other)?;

    // The messages holding a password, token or key get a `Debug` of their own that hides it
    // (`src/redact.rs`) instead of prost's, which prints every field.
    let redacted = REDACTED.iter().map(|name| format!(".assistchat.v1.{name}"));
    tonic_prost_build::configure().generate_default_stubs(false).skip_debug(redacted).compile_fds(descriptors)
}

/// The messages that carry a secret: each has its `Debug` written in `src/redact.rs`. The
/// compiler keeps the two lists together, since every prost message must be `Debug` exactly once.
const REDACTED: &[&str] = &[
    "Session",
    "RegisterRequest",
    "LoginRequest",
    "ChangePasswordRequest",
    "CreateApiTokenResponse",
    "BeginIdentitySignInResponse",
    "FinishIdentitySignInRequest",
    "IdentityLinkRequired",
    "LinkIdentityWithPasswordRequest",
    "RedeemSignInLinkRequest",
    "SetOpenAiKeyRequest",
    "DeleteAccountRequest",
    "Resource",
    "StartResourceCommand",
];
