//! A small XML writer for AWS's Query and REST-XML responses.

/// Builds an XML document; elements are opened and closed explicitly.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

impl Xml {
    /// A document with the XML declaration.
    pub fn new() -> Xml {
        Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Xml {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Opens `<name xmlns="ns">`.
    pub fn open_ns(&mut self, name: &str, ns: &str) -> &mut Xml {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        escape(ns, &mut self.out);
        self.out.push_str("\">");
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Xml {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Xml {
        self.open(name);
        escape(text, &mut self.out);
        self.close(name)
    }

    /// `<name>text</name>` when `text` is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Xml {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_xml() {
        let mut x = Xml::new();
        x.open_ns("R", "https://iam.amazonaws.com/doc/2010-05-08/")
            .elem("A", "a<b&\"c\"")
            .close("R");
        assert!(x.finish().ends_with(
            "<R xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><A>a&lt;b&amp;&quot;c&quot;</A></R>"
        ));
    }
}
