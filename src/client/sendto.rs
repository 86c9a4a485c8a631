//! The `sendto` front end (PROTOCOLS.md). Not written yet: it sends typed lines
//! as they are and prints what arrives, like `mesg`.

use super::{FrontEnd, Screen};

pub struct Sendto {
    inner: super::mesg::Mesg,
}

impl Sendto {
    pub fn new() -> Sendto {
        Sendto {
            inner: super::mesg::Mesg::new(),
        }
    }
}

impl Default for Sendto {
    fn default() -> Sendto {
        Sendto::new()
    }
}

impl FrontEnd for Sendto {
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        self.inner.on_typed(line, to_server, screen)
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        self.inner.on_server(bytes, screen)
    }
}
