//! The `hello` front end (PROTOCOLS.md). Not written yet: it sends typed lines
//! as they are and prints what arrives, like `mesg`.

use super::{FrontEnd, Screen};

pub struct Hello {
    inner: super::mesg::Mesg,
}

impl Hello {
    pub fn new() -> Hello {
        Hello {
            inner: super::mesg::Mesg::new(),
        }
    }
}

impl Default for Hello {
    fn default() -> Hello {
        Hello::new()
    }
}

impl FrontEnd for Hello {
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        self.inner.on_typed(line, to_server, screen)
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        self.inner.on_server(bytes, screen)
    }
}
