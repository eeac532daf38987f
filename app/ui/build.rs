//! Compiles the screens with their translations bundled in (the image has no locale files;
//! gettext's domain is this crate's name, hence `translations/sw/LC_MESSAGES/sajili-screens.po`).
fn main() {
    let config =
        slint_build::CompilerConfiguration::new().with_bundled_translations("translations");
    if let Err(error) = slint_build::compile_with_config("kiosk.slint", config) {
        eprintln!("the kiosk's screens do not compile: {error}");
        std::process::exit(1);
    }
}
