//! Crash-test child: seals the same enrolment again and again into a data dir, printing each
//! registration number only after its commit returned, until it is killed.
#![allow(clippy::expect_used)]

use sajili::clock::{self, Clock, SystemClock};
use sajili::device::{self, DataDir};

fn main() {
    let data = std::env::args().nth(1).expect("usage: seal-loop DATA JSON");
    let json = std::env::args().nth(2).expect("usage: seal-loop DATA JSON");
    let device = device::open(&DataDir::new(data)).expect("open device");
    loop {
        let floor = device.store.clock_floor().expect("clock floor");
        let now = clock::floored(SystemClock.now(), floor);
        let enrolment =
            sajili::kiosk::load(json.as_ref(), clock::kenyan_date(now)).expect("load example");
        let sealed = sajili::kiosk::enrol(&device, enrolment, now).expect("seal");
        println!("{}", sealed.registration_number);
    }
}
