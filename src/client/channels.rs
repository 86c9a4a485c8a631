//! The `channels` front end (PROTOCOLS.md). Not written yet: it sends typed lines
//! as they are and prints what arrives, like `mesg`.

use super::{FrontEnd, Screen};

pub struct Channels {
    inner: super::mesg::Mesg,
}

impl Channels {
    pub fn new(name: String) -> Channels {
        let _ = name;
        Channels {
            inner: super::mesg::Mesg::new(),
        }
    }
}

impl FrontEnd for Channels {
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        self.inner.on_typed(line, to_server, screen)
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        self.inner.on_server(bytes, screen)
    }
}
