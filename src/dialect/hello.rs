//! The `hello` dialect (PROTOCOLS.md). Not written yet: every frame is
//! ignored and every event renders as nothing.

use super::{Action, After, Me};
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use crate::hub::Event;

#[derive(Debug)]
pub struct Session {
    framer: LineFramer,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        Session {
            framer: LineFramer::new(crate::limits::MAX_LINE),
        }
    }

    pub fn decode(&mut self, data: &mut [u8], reply: &mut Vec<u8>) -> usize {
        let _ = reply;
        data.len()
    }

    pub fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        self.framer.next_frame(buf)
    }

    pub fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        self.framer.finish(buf)
    }

    pub fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        me: Me<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let _ = (frame, me, reply);
        Action::Done(After::Keep)
    }
}

pub fn render(event: &Event, out: &mut Vec<u8>) -> After {
    let _ = (event, out);
    After::Keep
}

pub fn log_event(fd: i32, event: &Event) {
    let _ = (fd, event);
}
