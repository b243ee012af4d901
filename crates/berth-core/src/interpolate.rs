//! `${...}` expressions: the one parser for every place that reads them.
//! Expansion and the offline resolver read the file's `${var.x}`,
//! `${aws.region}` and `${section.NAME.attr}`; the graph, the engine and the
//! live checks read the `${ref:ADDRESS#ATTR}` placeholders expansion leaves.

/// A part of a text split at expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text outside any expression.
    Text(&'a str),
    /// What stands between the opening marker and the first `}` after it.
    Expr(&'a str),
    /// An opening marker with no `}` after it: the text after the marker.
    Unclosed(&'a str),
}

/// Splits `text` at expressions that start with `open` (`"${"`, or the
/// placeholder prefix `"${ref:"`) and end at the next `}`.
pub fn pieces<'a>(text: &'a str, open: &'a str) -> Pieces<'a> {
    Pieces { rest: text, open, pending: None }
}

/// The iterator of [`pieces`].
pub struct Pieces<'a> {
    rest: &'a str,
    open: &'a str,
    pending: Option<Piece<'a>>,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if let Some(piece) = self.pending.take() {
            return Some(piece);
        }
        if self.rest.is_empty() {
            return None;
        }
        let Some(start) = self.rest.find(self.open) else {
            return Some(Piece::Text(std::mem::take(&mut self.rest)));
        };
        let text = &self.rest[..start];
        let after = &self.rest[start + self.open.len()..];
        let expr = match after.find('}') {
            Some(end) => {
                self.rest = &after[end + 1..];
                Piece::Expr(&after[..end])
            }
            None => {
                self.rest = "";
                Piece::Unclosed(after)
            }
        };
        if text.is_empty() {
            Some(expr)
        } else {
            self.pending = Some(expr);
            Some(Piece::Text(text))
        }
    }
}

/// What a `${...}` expression of the stack file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expression<'a> {
    /// `${aws.NAME}`: a built-in.
    Builtin(&'a str),
    /// `${var.NAME}`.
    Var(&'a str),
    /// `${section.NAME.attr}`: `section` is `buckets` or `iam.roles`, `rest` is `NAME.attr`
    /// (empty when the expression stops at the section).
    Resource {
        /// The section, as [`crate::expand`]'s registry names it.
        section: &'a str,
        /// What follows the section.
        rest: &'a str,
    },
}

impl<'a> Expression<'a> {
    /// Reads an expression (already trimmed).
    pub fn parse(expr: &'a str) -> Expression<'a> {
        if let Some(name) = expr.strip_prefix("aws.") {
            return Expression::Builtin(name);
        }
        if let Some(name) = expr.strip_prefix("var.") {
            return Expression::Var(name);
        }
        // `iam.roles` and `iam.policies` are sections of two words.
        let len = match expr.strip_prefix("iam.") {
            Some(rest) => "iam.".len() + rest.find('.').unwrap_or(rest.len()),
            None => expr.find('.').unwrap_or(expr.len()),
        };
        Expression::Resource { section: &expr[..len], rest: expr.get(len + 1..).unwrap_or("") }
    }

    /// For a resource expression, its resource name and attribute.
    pub fn name_and_attr(rest: &'a str) -> Option<(&'a str, &'a str)> {
        rest.rsplit_once('.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_split_at_expressions() {
        let split: Vec<Piece> = pieces("a${x}b${ y }${z", "${").collect();
        assert_eq!(
            split,
            [Piece::Text("a"), Piece::Expr("x"), Piece::Text("b"), Piece::Expr(" y "), Piece::Unclosed("z")]
        );
        assert_eq!(pieces("", "${").count(), 0);
        assert_eq!(pieces("${a}", "${").collect::<Vec<_>>(), [Piece::Expr("a")]);
        let refs: Vec<Piece> = pieces("x ${y} ${ref:a#b}", "${ref:").collect();
        assert_eq!(refs, [Piece::Text("x ${y} "), Piece::Expr("a#b")]);
    }

    #[test]
    fn expressions_name_builtins_vars_and_sections() {
        assert_eq!(Expression::parse("aws.region"), Expression::Builtin("region"));
        assert_eq!(Expression::parse("var.image"), Expression::Var("image"));
        assert_eq!(
            Expression::parse("iam.roles.task.arn"),
            Expression::Resource { section: "iam.roles", rest: "task.arn" }
        );
        assert_eq!(Expression::parse("buckets.b.c.arn"), Expression::Resource { section: "buckets", rest: "b.c.arn" });
        assert_eq!(Expression::parse("iam.roles"), Expression::Resource { section: "iam.roles", rest: "" });
        assert_eq!(Expression::parse("iam"), Expression::Resource { section: "iam", rest: "" });
        assert_eq!(Expression::name_and_attr("b.c.arn"), Some(("b.c", "arn")));
    }
}
