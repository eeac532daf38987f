//! A kiosk on Slint's testing backend, driven as a person drives it: each touch finds its
//! button or field by what it says (its accessible label). The UI tests walk enrolments with
//! it; the boot test plans its touches on the guest with it.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use sajili::clock::SystemClock;
use sajili::device::Device;
use sajili::kiosk::Screen;
use sajili::ui::devices::Devices;
use sajili::ui::{self, App, KioskWindow};
use slint::ComponentHandle;

/// How long a wait for the devices lasts before it is a failure.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

thread_local! {
    static BACKEND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Slint's testing backend, once per thread.
pub fn init_backend() {
    BACKEND.with(|ready| {
        if !ready.replace(true) {
            i_slint_backend_testing::init_no_event_loop();
        }
    });
}

/// One kiosk and its window on the testing backend.
pub struct KioskDriver {
    /// The kiosk itself, as the window's callbacks reach it.
    pub app: Rc<RefCell<App>>,
    /// Its window.
    pub window: KioskWindow,
}

impl KioskDriver {
    /// The kiosk on `device` with `devices`, its window `width` x `height` pixels.
    pub fn open(device: Device, devices: Devices, width: u32, height: u32) -> Result<Self> {
        init_backend();
        let window = KioskWindow::new()?;
        let app = App::new(
            device,
            devices,
            Box::new(SystemClock),
            window.clone_strong(),
        );
        let app = Rc::new(RefCell::new(app));
        ui::connect(&app);
        window.show()?;
        window
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        // Lets Slint lay out what was just shown.
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(1));
        Ok(Self { app, window })
    }

    /// The screen the kiosk shows.
    pub fn screen(&self) -> Screen {
        self.app.borrow().session().screen()
    }

    /// The button or field labelled `label` that is in sight (not a plain text saying the
    /// same, nor something laid out at zero size).
    pub fn element(&self, label: &str) -> Result<ElementHandle> {
        ElementHandle::find_by_accessible_label(&self.window, label)
            .find(touchable)
            .ok_or_else(|| {
                anyhow!(
                    "nothing labelled {label:?} on the {} screen; in sight: {:?}",
                    self.screen().id(),
                    self.in_sight()
                )
            })
    }

    /// The labels of every button and field in sight.
    pub fn in_sight(&self) -> Vec<String> {
        self.window
            .root_element()
            .query_descendants()
            .find_all()
            .iter()
            .filter(|e| touchable(e))
            .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
            .collect()
    }

    /// Whether a button or field labelled `label` is in sight.
    pub fn shows(&self, label: &str) -> bool {
        self.element(label).is_ok()
    }

    /// Presses the button or field labelled `label`.
    pub fn press(&self, label: &str) -> Result<()> {
        self.element(label)?.invoke_accessible_default_action();
        // Lets Slint build what the touch made appear (a list, a dialog).
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(1));
        Ok(())
    }

    /// Lets the devices work until `done`, up to a minute.
    pub fn wait(&self, what: &str, done: impl Fn(&App) -> bool) -> Result<()> {
        let start = Instant::now();
        loop {
            self.app.borrow_mut().poll();
            let app = self.app.borrow();
            if done(&app) {
                return Ok(());
            }
            if start.elapsed() > WAIT_LIMIT {
                bail!(
                    "waited a minute for {what}: screen {}, notice {:?}",
                    app.session().screen().id(),
                    app.session().notice
                );
            }
            drop(app);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Prints every finger that needs one, pressing `take_print` (the button's label in the
    /// screens' language) as often as the kiosk asks.
    pub fn fingers(&self, take_print: &str) -> Result<()> {
        for _ in 0..40 {
            if self.app.borrow().session().fingers_left() == 0 {
                return Ok(());
            }
            self.press(take_print)?;
            self.wait("a print", |app| !app.session().capturing)?;
        }
        bail!("ten fingers took more than 40 prints")
    }
}

/// A button or text field with a size: what a finger can touch.
fn touchable(element: &ElementHandle) -> bool {
    matches!(
        element.accessible_role(),
        Some(AccessibleRole::Button | AccessibleRole::TextInput)
    ) && element.size().width > 0.0
}
