//! Compiles `csrc/jpeg_stream.c` (strip-by-strip JPEG decoding and encoding, see
//! `src/jpeg_ffi.rs`) against the libjpeg-turbo headers `turbojpeg-sys` installs
//! with the static library it builds, so the shim links with that one library.

fn main() {
    println!("cargo:rerun-if-changed=csrc/jpeg_stream.c");
    // `turbojpeg-sys` (links = "turbojpeg") prints `cargo:include=DIR[,DIR]`:
    // its install prefix's include directory, with jpeglib.h and the jconfig.h of
    // the build.
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .expect("turbojpeg-sys publishes its include directory (DEP_TURBOJPEG_INCLUDE)");
    let mut build = cc::Build::new();
    for dir in include.split(',').filter(|dir| !dir.is_empty()) {
        build.include(dir);
    }
    build
        .file("csrc/jpeg_stream.c")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wconversion")
        .flag_if_supported("-fno-strict-aliasing")
        .compile("imagegraph_jpeg_stream");
}
