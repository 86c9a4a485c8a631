//! The `channels` front end (docs/PROTOCOLS.md section 3): the name goes out as
//! the first frame, every typed line as a frame of its own, and every frame
//! from the server is printed over the `[Me] ` prompt.
//!
//! The screen follows the assignment's reference client. `[Me] ` starts
//! every line the user may type on. A message from the server rubs the
//! prompt out (`\r` and four spaces, then `\r`), takes the line, and puts a
//! fresh prompt after it. Typed lines are not echoed: the terminal already
//! shows them.

use super::{FrontEnd, Screen};
use crate::dialect::channels::{put_frame, strip, FRAME_LEN};
use crate::framing::fixed::FixedFramer;
use crate::framing::{Frame, Framer};

/// The prompt (`utils.CLIENT_MESSAGE_PREFIX`).
pub const PROMPT: &[u8] = b"[Me] ";

/// Back to the start of the line and blank out `[Me]`
/// (`utils.CLIENT_WIPE_ME`). A message shorter than the prompt would
/// otherwise leave its tail showing (`AMe]`); the `\r` that follows puts
/// the message at the start of the line again.
pub const WIPE_ME: &[u8] = b"\r    ";

pub struct Channels {
    name: String,
    frames: FixedFramer,
}

impl Channels {
    pub fn new(name: String) -> Channels {
        Channels {
            name,
            frames: FixedFramer::new(FRAME_LEN),
        }
    }
}

/// Prints `text` on the prompt's line, in its place.
fn over_prompt(screen: &mut Screen, text: &[u8]) {
    screen.raw(WIPE_ME);
    screen.raw(b"\r");
    screen.line(text);
}

impl FrontEnd for Channels {
    fn on_connect(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) {
        put_frame(to_server, &[self.name.as_bytes()]);
        screen.raw(PROMPT);
    }

    /// The line goes out as one frame, cut to fit; the user's next line
    /// gets its prompt.
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        put_frame(to_server, &[line]);
        screen.raw(PROMPT);
    }

    /// Only whole frames are printed; a partial one waits for the rest.
    /// A frame of padding alone prints nothing: several servers answer an
    /// empty `/list` with 200 spaces, and the reference clients show
    /// nothing for it.
    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        let mut pos = 0;
        loop {
            let (used, frame) = self.frames.next_frame(&bytes[pos..]);
            pos += used;
            match frame {
                Some(Frame::Data(frame)) if strip(frame).is_empty() => {}
                Some(Frame::Data(frame)) => {
                    over_prompt(screen, strip(frame));
                    screen.raw(PROMPT);
                }
                Some(Frame::TooLong) => {}
                None => return pos,
            }
        }
    }

    /// The reference client prints this one over the prompt too, and
    /// leaves no prompt behind.
    fn on_server_closed(&mut self, target: &str, screen: &mut Screen) -> i32 {
        over_prompt(
            screen,
            format!("Server at {target} has disconnected").as_bytes(),
        );
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the front end printed (the screen's buffer is visible to
    /// the client's submodules).
    fn shown(screen: Screen) -> String {
        String::from_utf8(screen.buf).unwrap()
    }

    #[test]
    fn connecting_sends_the_name_and_shows_the_prompt() {
        let mut front = Channels::new("Panda".into());
        let (mut to_server, mut screen) = (Vec::new(), Screen::default());
        front.on_connect(&mut to_server, &mut screen);
        let mut want = b"Panda".to_vec();
        want.resize(FRAME_LEN, b' ');
        assert_eq!(to_server, want);
        assert_eq!(shown(screen), "[Me] ");
    }

    #[test]
    fn a_typed_line_is_one_frame_cut_to_fit_and_not_echoed() {
        let mut front = Channels::new("Panda".into());
        let (mut to_server, mut screen) = (Vec::new(), Screen::default());
        front.on_typed(&[b'x'; 300], &mut to_server, &mut screen);
        assert_eq!(to_server, vec![b'x'; FRAME_LEN]);
        assert_eq!(shown(screen), "[Me] ");
    }

    #[test]
    fn whole_frames_are_printed_over_the_prompt() {
        let mut front = Channels::new("Panda".into());
        let mut stream = Vec::new();
        put_frame(&mut stream, &[b"A"]);
        put_frame(&mut stream, &[b"Alice has joined"]);
        let mut screen = Screen::default();
        // One and a half frames: the half waits.
        let used = front.on_server(&stream[..FRAME_LEN + 50], &mut screen);
        assert_eq!(used, FRAME_LEN);
        assert_eq!(
            front.on_server(&stream[FRAME_LEN..], &mut screen),
            FRAME_LEN
        );
        assert_eq!(
            shown(screen),
            "\r    \rA\n[Me] \r    \rAlice has joined\n[Me] "
        );
    }

    #[test]
    fn a_frame_of_padding_alone_prints_nothing() {
        let mut front = Channels::new("Panda".into());
        let mut stream = vec![b' '; FRAME_LEN];
        stream.extend(b"\t\r\n");
        stream.resize(2 * FRAME_LEN, b' ');
        let mut screen = Screen::default();
        assert_eq!(front.on_server(&stream, &mut screen), 2 * FRAME_LEN);
        assert_eq!(shown(screen), "");
    }

    #[test]
    fn the_server_hanging_up_is_printed_over_the_prompt() {
        let mut screen = Screen::default();
        let status = Channels::new("x".into()).on_server_closed("localhost:55555", &mut screen);
        assert_eq!(status, 0);
        assert_eq!(
            shown(screen),
            "\r    \rServer at localhost:55555 has disconnected\n"
        );
    }
}
