//! Who should review a pull request, according to the repository's CODEOWNERS file.
//!
//! Why this exists: the reviewers of a bot pull request come from the repository's driftfix
//! configuration when it names them, and otherwise from the code owners of the files the fix changes.
//! GitHub requests code owners by itself only when a pull request is ready for review, not while it
//! is a draft; asking for them explicitly gives the same people either way, and lets the bot leave
//! out logins GitHub would refuse (a pull request's author cannot be requested). The module is pure:
//! text in, owners out; reading the file and calling the API live elsewhere.
//!
//! What it follows (GitHub's "About code owners"):
//! - **Where the file lives**: `.github/CODEOWNERS`, then `CODEOWNERS`, then `docs/CODEOWNERS`; the
//!   first one found is used ([`LOCATIONS`], [`pick`]), as read from the base branch. A file larger
//!   than 3 MB is not loaded by GitHub at all, so it gives no owners here either.
//! - **One rule per line**: a pattern, then zero or more owners (`@user`, `@org/team`, or an email
//!   address) separated by whitespace. `#` starts a comment, as a whole line or after the owners.
//!   A pattern without owners takes ownership away from the files it matches.
//! - **The last matching rule wins**, for each file on its own.
//! - **Patterns are gitignore patterns**: `/` at the start or in the middle anchors a pattern at
//!   the repository root, otherwise it matches at any depth; a trailing `/` names a directory;
//!   a pattern that names a directory owns every file below it; `*` and `?` stay within one path
//!   segment, `**` spans directories (`**/logs`, `logs/**`, `a/**/b`). One documented difference
//!   from gitignore: a pattern ending in `/*` (`docs/*`) owns only the files directly in that
//!   directory, not the ones in its subdirectories. Paths are case sensitive.
//!
//! What is not supported, and why: GitHub documents that three gitignore features do not work in
//! CODEOWNERS: `!` negation, `[ ]` character ranges, and escaping a leading `#` with `\` (`\#`).
//! A line that uses one of them (a lone `[` or `]` included), any other `\` escape (so a path with a
//! space cannot be named), or an owner that is none of the three owner forms, is invalid. GitHub
//! skips invalid lines and keeps the rest of the file, and so does [`CodeOwners::parse`], which also
//! reports each one as a [`Problem`] so that the repository's maintainers can be told why a rule has
//! no effect. Whether a named user or team exists and has the write access GitHub requires of an
//! owner is for the API to say. Emails stay owners but are never requested: the review request API
//! takes logins and team slugs only.

use std::fmt;

/// Where GitHub looks for the CODEOWNERS file, in the order it looks.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// GitHub does not load a CODEOWNERS file larger than this (documented as 3 MB).
pub const MAX_BYTES: usize = 3 * 1024 * 1024;

/// The CODEOWNERS file GitHub would use: the first of [`LOCATIONS`] that `read` finds, with its text.
pub fn pick<'a>(mut read: impl FnMut(&str) -> Option<&'a str>) -> Option<(&'static str, &'a str)> {
    LOCATIONS.into_iter().find_map(|location| read(location).map(|text| (location, text)))
}

/// One owner named in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// `@login`, stored without the `@`.
    User(String),
    /// `@org/team-slug`.
    Team { org: String, slug: String },
    /// An email address of a GitHub account; it cannot be requested as a reviewer.
    Email(String),
}

impl Owner {
    /// Parse one owner token: `@user`, `@org/team`, or an email address.
    pub fn parse(token: &str) -> Result<Owner, String> {
        match token.strip_prefix('@') {
            Some(handle) => parse_handle(handle).ok_or_else(|| format!("`{token}` is neither @user nor @org/team")),
            None if is_email(token) => Ok(Owner::Email(token.to_owned())),
            None => Err(format!("`{token}` is not an owner (@user, @org/team or an email address)")),
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::User(login) => write!(f, "@{login}"),
            Owner::Team { org, slug } => write!(f, "@{org}/{slug}"),
            Owner::Email(address) => f.write_str(address),
        }
    }
}

/// `user` or `org/team`, the part of an owner after the `@`.
fn parse_handle(handle: &str) -> Option<Owner> {
    match handle.split_once('/') {
        Some((org, slug)) => {
            (is_login(org) && is_team_slug(slug)).then(|| Owner::Team { org: org.to_owned(), slug: slug.to_owned() })
        }
        None => is_login(handle).then(|| Owner::User(handle.to_owned())),
    }
}

/// A GitHub login: letters, digits and `-`, not starting with `-` (`_` too, which managed user
/// accounts use before their enterprise's short code).
fn is_login(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// A team slug: the lower-cased, hyphenated team name GitHub derives (`_` kept).
fn is_team_slug(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `local@domain.tld`: one `@`, something before it, a dotted domain without empty labels.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let printable = |part: &str| part.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '@');
    !local.is_empty()
        && printable(local)
        && printable(domain)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

/// A line of the file that was skipped, and why. `line` is 1-based; 0 means the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "CODEOWNERS: {}", self.message),
            line => write!(f, "CODEOWNERS line {line}: {}", self.message),
        }
    }
}

/// The parsed rules of one CODEOWNERS file, in file order.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    owners: Vec<Owner>,
}

impl CodeOwners {
    /// Parse the file. Invalid lines are skipped (as GitHub does) and reported; the valid ones are
    /// kept in order.
    pub fn parse(text: &str) -> (CodeOwners, Vec<Problem>) {
        if text.len() > MAX_BYTES {
            let message = format!("the file is larger than {MAX_BYTES} bytes; GitHub does not load it");
            return (CodeOwners::default(), vec![Problem { line: 0, message }]);
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (index, line) in text.lines().enumerate() {
            match parse_line(line) {
                None => {}
                Some(Ok(rule)) => rules.push(rule),
                Some(Err(message)) => problems.push(Problem { line: index + 1, message }),
            }
        }
        (CodeOwners { rules }, problems)
    }

    /// The owners of one file (repository-relative, `/`-separated): those of the last rule that
    /// matches it. Empty when no rule matches, or when the last one has no owners.
    pub fn owners_of(&self, path: &str) -> &[Owner] {
        let segments = path_segments(path);
        if segments.is_empty() {
            return &[];
        }
        self.rules.iter().rev().find(|rule| rule.pattern.matches(&segments)).map_or(&[], |rule| &rule.owners)
    }

    /// The reviewers to request for a change to `paths`: the users and teams owning any of them,
    /// each once, in the order first met. Emails are left out (the API cannot request them).
    pub fn reviewers_for<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Reviewers {
        let mut reviewers = Reviewers::default();
        for path in paths {
            self.owners_of(path).iter().for_each(|owner| reviewers.add(owner));
        }
        reviewers
    }
}

/// Users and teams to request a review from, in the shape of GitHub's "request reviewers" call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reviewers {
    /// Logins, without `@` (`reviewers`).
    pub users: Vec<String>,
    /// Team slugs, without the organisation (`team_reviewers`).
    pub teams: Vec<String>,
}

impl Reviewers {
    /// Without the given logins (the pull request's author, the bot): GitHub refuses to request a
    /// review from the author. Logins compare case-insensitively, as GitHub's do.
    pub fn excluding(mut self, logins: &[&str]) -> Reviewers {
        self.users.retain(|user| !logins.iter().any(|login| login.trim_start_matches('@').eq_ignore_ascii_case(user)));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.teams.is_empty()
    }

    fn add(&mut self, owner: &Owner) {
        match owner {
            Owner::User(login) => push_once(&mut self.users, login),
            Owner::Team { slug, .. } => push_once(&mut self.teams, slug),
            Owner::Email(_) => {}
        }
    }
}

/// Append `name` unless it is already there (case-insensitively: logins and slugs are).
fn push_once(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
        names.push(name.to_owned());
    }
}

/// The path's segments; empty segments (a leading `/`, `a//b`) are dropped.
fn path_segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|segment| !segment.is_empty()).collect()
}

/// One line: `None` when blank or a comment, else the rule or why the line is invalid.
fn parse_line(line: &str) -> Option<Result<Rule, String>> {
    let mut tokens = line.split_whitespace().take_while(|token| !token.starts_with('#'));
    let pattern = tokens.next()?;
    Some(parse_rule(pattern, tokens))
}

fn parse_rule<'t>(pattern: &str, owners: impl Iterator<Item = &'t str>) -> Result<Rule, String> {
    let pattern = Pattern::parse(pattern)?;
    let owners = owners.map(Owner::parse).collect::<Result<Vec<_>, _>>()?;
    Ok(Rule { pattern, owners })
}

/// A compiled pattern: path segments to match from the repository root.
#[derive(Debug, Clone)]
struct Pattern {
    /// Unanchored patterns start with [`Segment::AnyDepth`].
    segments: Vec<Segment>,
    /// The pattern can match a file's full path (not only a directory above it).
    names_files: bool,
    /// A directory it matches owns everything below it.
    owns_contents: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnyDepth,
    /// One segment, matched by [`Token`]s.
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    AnyChar,
    /// `*` (or several in a row, inside a segment)
    AnyRun,
}

impl Pattern {
    fn parse(raw: &str) -> Result<Pattern, String> {
        reject_unsupported(raw)?;
        let anchored_at_root = raw.starts_with('/');
        let body = raw.strip_prefix('/').unwrap_or(raw);
        let names_directory = body.ends_with('/');
        let body = body.strip_suffix('/').unwrap_or(body);
        if body.is_empty() {
            return Err(format!("`{raw}` names no path"));
        }
        if body.split('/').any(str::is_empty) {
            return Err(format!("`{raw}` has an empty path segment"));
        }
        let mut segments: Vec<Segment> = body.split('/').map(Segment::parse).collect();
        let anchored = anchored_at_root || segments.len() > 1;
        // `dir/**` is everything inside `dir`: the same as `dir/`, anchored.
        let names_directory = names_directory || strip_trailing_any_depth(&mut segments);
        // GitHub's one documented departure from gitignore: `docs/*` owns the files directly in
        // `docs`, not the subdirectories (and so not the files in them).
        let files_directly_inside = !names_directory && segments.last() == Some(&Segment::Glob(vec![Token::AnyRun]));
        if !anchored {
            segments.insert(0, Segment::AnyDepth);
        }
        Ok(Pattern { segments, names_files: !names_directory, owns_contents: !files_directly_inside })
    }

    /// Whether the pattern matches the file, or a directory that contains it.
    fn matches(&self, path: &[&str]) -> bool {
        (1..=path.len()).any(|depth| self.matches_at_depth(path, depth))
    }

    /// Whether the pattern matches the first `depth` segments of the path: the file itself when that
    /// is all of them, else one of its directories.
    fn matches_at_depth(&self, path: &[&str], depth: usize) -> bool {
        let allowed = if depth == path.len() { self.names_files } else { self.owns_contents };
        allowed && path.get(..depth).is_some_and(|prefix| segments_match(&self.segments, prefix))
    }
}

/// Remove a trailing `**` that follows another segment; whether it did.
fn strip_trailing_any_depth(segments: &mut Vec<Segment>) -> bool {
    let trailing = segments.len() > 1 && segments.last() == Some(&Segment::AnyDepth);
    if trailing {
        segments.pop();
    }
    trailing
}

/// Why a pattern uses syntax GitHub documents as unsupported, if it does.
fn reject_unsupported(raw: &str) -> Result<(), String> {
    if raw.starts_with('!') {
        Err(format!("`{raw}`: negation (`!`) is not supported in CODEOWNERS"))
    } else if raw.starts_with("\\#") {
        Err(format!("`{raw}`: escaping a leading `#` with `\\` is not supported in CODEOWNERS"))
    } else if raw.contains('\\') {
        Err(format!("`{raw}`: `\\` escapes are not supported in CODEOWNERS"))
    } else if raw.contains(['[', ']']) {
        Err(format!("`{raw}`: character ranges (`[ ]`) are not supported in CODEOWNERS"))
    } else {
        Ok(())
    }
}

impl Segment {
    fn parse(text: &str) -> Segment {
        if text == "**" {
            return Segment::AnyDepth;
        }
        let mut tokens = Vec::with_capacity(text.len());
        for c in text.chars() {
            let token = match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyChar,
                other => Token::Char(other),
            };
            if !(token == Token::AnyRun && tokens.last() == Some(&Token::AnyRun)) {
                tokens.push(token);
            }
        }
        Segment::Glob(tokens)
    }

    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::AnyDepth => true,
            Segment::Glob(tokens) => {
                let chars: Vec<char> = segment.chars().collect();
                wildcard_match(tokens, &chars, |token| *token == Token::AnyRun, token_matches)
            }
        }
    }
}

fn token_matches(token: &Token, c: &char) -> bool {
    match token {
        Token::Char(expected) => expected == c,
        Token::AnyChar | Token::AnyRun => true,
    }
}

fn segments_match(pattern: &[Segment], path: &[&str]) -> bool {
    wildcard_match(pattern, path, |segment| *segment == Segment::AnyDepth, |segment, name| segment.matches(name))
}

/// Wildcard matching of a whole sequence: an item for which `is_run` holds matches any run of
/// items (empty included), any other item matches exactly one item for which `matches_one` holds.
/// The usual greedy walk that, on a mismatch, lets the latest run swallow one more item: linear
/// for one run, never worse than `pattern.len() * text.len()` steps.
fn wildcard_match<P, T>(
    pattern: &[P],
    text: &[T],
    is_run: impl Fn(&P) -> bool,
    matches_one: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the latest run: where the pattern resumes, and where the text resumes if it fails.
    let mut retry: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(item), _) if is_run(item) => {
                retry = Some((p + 1, t));
                p += 1;
            }
            (Some(item), Some(actual)) if matches_one(item, actual) => {
                p += 1;
                t += 1;
            }
            _ => match retry {
                Some((resume_pattern, resume_text)) => {
                    retry = Some((resume_pattern, resume_text + 1));
                    p = resume_pattern;
                    t = resume_text + 1;
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(&is_run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owners(text: &str) -> CodeOwners {
        let (owners, problems) = CodeOwners::parse(text);
        assert!(problems.is_empty(), "unexpected problems: {problems:?}");
        owners
    }

    fn user(login: &str) -> Owner {
        Owner::User(login.to_owned())
    }

    /// Whether a file with a single rule `pattern @o` is owned.
    fn owned(pattern: &str, path: &str) -> bool {
        !owners(&format!("{pattern} @o")).owners_of(path).is_empty()
    }

    fn assert_pattern(pattern: &str, matching: &[&str], not_matching: &[&str]) {
        for path in matching {
            assert!(owned(pattern, path), "`{pattern}` should match `{path}`");
        }
        for path in not_matching {
            assert!(!owned(pattern, path), "`{pattern}` should not match `{path}`");
        }
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    // Where the file lives.

    #[test]
    fn locations_are_in_githubs_search_order() {
        assert_eq!(LOCATIONS, [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]);
    }

    #[test]
    fn pick_prefers_dot_github_then_root_then_docs() {
        let all = |path: &str| Some(if path == "CODEOWNERS" { "root" } else { "other" });
        assert_eq!(pick(all), Some((".github/CODEOWNERS", "other")));
        let root_and_docs = |path: &str| match path {
            "CODEOWNERS" => Some("root"),
            "docs/CODEOWNERS" => Some("docs"),
            _ => None,
        };
        assert_eq!(pick(root_and_docs), Some(("CODEOWNERS", "root")));
        assert_eq!(pick(|path: &str| (path == "docs/CODEOWNERS").then_some("docs")), Some(("docs/CODEOWNERS", "docs")));
        assert_eq!(pick(|_: &str| None), None);
    }

    #[test]
    fn pick_stops_at_the_first_file_found() {
        let mut asked = Vec::new();
        let found = pick(|path: &str| {
            asked.push(path.to_owned());
            (path == "CODEOWNERS").then_some("* @a")
        });
        assert_eq!(found, Some(("CODEOWNERS", "* @a")));
        assert_eq!(asked, strings(&[".github/CODEOWNERS", "CODEOWNERS"]));
    }

    #[test]
    fn a_file_over_three_megabytes_is_not_loaded() {
        let text = format!("* @a\n{}", "#".repeat(MAX_BYTES));
        let (owners, problems) = CodeOwners::parse(&text);
        assert!(owners.owners_of("main.tf").is_empty());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 0);
        assert!(problems[0].to_string().starts_with("CODEOWNERS: the file is larger than"));
    }

    // Syntax.

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let file = owners("# owners of everything\n\n   \n\t# indented comment\n* @a # trailing comment @b\n");
        assert_eq!(file.owners_of("main.tf"), [user("a")]);
        assert_eq!(file.rules.len(), 1);
    }

    #[test]
    fn a_comment_right_after_the_pattern_leaves_it_without_owners() {
        let file = owners("* @a\n*.tf #@b is on holiday");
        assert!(file.owners_of("main.tf").is_empty());
        assert_eq!(file.owners_of("README.md"), [user("a")]);
    }

    #[test]
    fn a_hash_inside_a_pattern_or_glued_to_it_is_literal() {
        let file = owners("a#b @a\nc# @c");
        assert_eq!(file.owners_of("a#b"), [user("a")]);
        assert_eq!(file.owners_of("c#"), [user("c")]);
    }

    #[test]
    fn escaping_a_leading_hash_is_unsupported_and_reported() {
        let (file, problems) = CodeOwners::parse("* @a\n\\#notes.md @b\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("escaping a leading `#`"), "{}", problems[0].message);
        assert_eq!(file.owners_of("#notes.md"), [user("a")], "the skipped line owns nothing");
    }

    #[test]
    fn owners_are_split_on_any_whitespace() {
        let file = owners("*.tf\t@a   @org/team\t dev@example.com");
        let expected =
            [user("a"), Owner::Team { org: "org".into(), slug: "team".into() }, Owner::Email("dev@example.com".into())];
        assert_eq!(file.owners_of("main.tf"), expected);
    }

    #[test]
    fn owner_forms_parse_and_print() {
        assert_eq!(Owner::parse("@octocat"), Ok(user("octocat")));
        assert_eq!(Owner::parse("@alice_acme"), Ok(user("alice_acme")));
        assert_eq!(
            Owner::parse("@octo-org/octocats"),
            Ok(Owner::Team { org: "octo-org".into(), slug: "octocats".into() })
        );
        assert_eq!(Owner::parse("docs@example.com"), Ok(Owner::Email("docs@example.com".into())));
        for owner in ["@octocat", "@octo-org/octocats", "docs@example.com"] {
            assert_eq!(Owner::parse(owner).map(|o| o.to_string()).as_deref(), Ok(owner));
        }
    }

    #[test]
    fn malformed_owners_are_rejected() {
        for bad in [
            "@",
            "octocat",
            "@-octocat",
            "@octo cat",
            "@org/",
            "@/team",
            "@org/team/sub",
            "@org/te@m",
            "docs@",
            "@example.com",
            "docs@example",
            "docs@example..com",
            "a@b@c.com",
            "@octocat!",
            "@driftfix[bot]",
        ] {
            assert!(Owner::parse(bad).is_err(), "`{bad}` should be rejected");
        }
    }

    #[test]
    fn invalid_lines_are_skipped_and_reported_with_their_line_number() {
        let text = "# header\n* @a\n!*.md @b\n\n*.[ch] @c\ndocs\\ dir/ @d\n*.tf @e nobody\n/ @f\na//b @g\n*.tf @h\n";
        let (file, problems) = CodeOwners::parse(text);
        let lines: Vec<usize> = problems.iter().map(|problem| problem.line).collect();
        assert_eq!(lines, [3, 5, 6, 7, 8, 9]);
        assert!(problems[0].message.contains("negation"));
        assert!(problems[1].message.contains("character ranges"));
        assert!(problems[2].message.contains("escapes"));
        assert!(problems[3].message.contains("`nobody` is not an owner"));
        assert!(problems[4].message.contains("names no path"));
        assert!(problems[5].message.contains("empty path segment"));
        assert_eq!(
            problems[3].to_string(),
            "CODEOWNERS line 7: `nobody` is not an owner (@user, @org/team or an email address)"
        );
        assert_eq!(file.owners_of("README.md"), [user("a")]);
        assert_eq!(file.owners_of("main.tf"), [user("h")]);
        assert_eq!(file.rules.len(), 2);
    }

    #[test]
    fn a_lone_bracket_is_reported_too() {
        let (_, problems) = CodeOwners::parse("[Docs]\nfoo] @a");
        assert_eq!(problems.iter().map(|problem| problem.line).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn line_numbers_count_crlf_lines_and_a_byte_order_mark_is_ignored() {
        let (file, problems) = CodeOwners::parse("\u{feff}* @a\r\n\r\n!x @b\r\n*.tf @c\r\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert_eq!(file.owners_of("x.tf"), [user("c")]);
        assert_eq!(file.owners_of("x"), [user("a")]);
    }

    #[test]
    fn an_exclamation_mark_inside_a_pattern_is_literal() {
        assert_pattern("wow!.tf", &["wow!.tf", "a/wow!.tf"], &["wow.tf"]);
    }

    // Patterns.

    #[test]
    fn star_alone_owns_everything() {
        assert_pattern("*", &["main.tf", "a/b/c.tf", ".github/CODEOWNERS"], &[]);
    }

    #[test]
    fn double_star_alone_owns_everything() {
        assert_pattern("**", &["main.tf", "a/b/c.tf"], &[]);
        assert_pattern("/**", &["main.tf", "a/b/c.tf"], &[]);
    }

    #[test]
    fn an_extension_pattern_matches_at_any_depth() {
        assert_pattern("*.tf", &["main.tf", "a/b/c.tf", ".tf"], &["main.tfvars", "main.tf.json", "a/tf"]);
    }

    #[test]
    fn a_plain_name_matches_a_file_or_a_directory_anywhere() {
        assert_pattern(
            "docs",
            &["docs", "docs/a.md", "a/docs", "a/b/docs/c/d.md"],
            &["docs.md", "mydocs/a.md", "a/docsx"],
        );
    }

    #[test]
    fn a_leading_slash_anchors_at_the_root() {
        assert_pattern("/docs", &["docs", "docs/a.md", "docs/x/y.md"], &["a/docs", "a/docs/b.md"]);
        assert_pattern("/main.tf", &["main.tf"], &["modules/x/main.tf"]);
    }

    #[test]
    fn a_slash_in_the_middle_anchors_too() {
        assert_pattern("apps/github", &["apps/github", "apps/github/x.tf", "apps/github/a/b"], &["x/apps/github/y.tf"]);
        assert_pattern("modules/*.tf", &["modules/a.tf"], &["x/modules/a.tf", "modules/sub/a.tf"]);
    }

    #[test]
    fn a_trailing_slash_names_a_directory_anywhere() {
        assert_pattern("apps/", &["apps/a.tf", "apps/x/y/z.tf", "src/apps/a.tf", "a/b/apps/c/d"], &["apps", "x/apps"]);
    }

    #[test]
    fn an_anchored_directory_owns_every_file_below_it() {
        assert_pattern(
            "/build/logs/",
            &["build/logs/a.log", "build/logs/x/y/z.log"],
            &["build/logs", "x/build/logs/a"],
        );
    }

    #[test]
    fn a_trailing_star_owns_only_the_files_directly_inside() {
        assert_pattern(
            "/docs/*",
            &["docs/getting-started.md", "docs/.hidden"],
            &["docs/build-app/troubleshooting.md", "docs"],
        );
        assert_pattern("docs/*", &["docs/a.md"], &["docs/a/b.md", "x/docs/a.md"]);
        assert_pattern("/*", &["main.tf"], &["modules/main.tf"]);
    }

    #[test]
    fn a_star_directory_owns_everything_below_it() {
        assert_pattern("/envs/*/", &["envs/prod/main.tf", "envs/prod/x/y.tf"], &["envs/main.tf", "x/envs/prod/a"]);
    }

    #[test]
    fn a_leading_double_star_matches_at_any_depth() {
        assert_pattern(
            "**/logs",
            &["logs", "logs/a.log", "build/logs/a.log", "deeply/nested/logs/x/y.log", "a/logs"],
            &["logs.txt", "a/catalogs/x"],
        );
        assert_pattern("**/*.tf", &["main.tf", "a/b/c.tf"], &["main.tfvars"]);
    }

    #[test]
    fn a_trailing_double_star_owns_everything_inside() {
        assert_pattern("logs/**", &["logs/a", "logs/a/b/c"], &["logs", "x/logs/a"]);
        assert_pattern("/logs/**/", &["logs/a/b"], &["logs"]);
    }

    #[test]
    fn a_double_star_in_the_middle_spans_zero_or_more_directories() {
        assert_pattern("a/**/b", &["a/b", "a/x/b", "a/x/y/b", "a/x/b/file.tf"], &["b", "x/a/b", "a/xb", "ab"]);
        assert_pattern(
            "/src/**/permissions/",
            &["src/permissions/p.al", "src/x/y/permissions/p.al"],
            &["src/permissions"],
        );
    }

    #[test]
    fn stars_that_are_not_a_whole_segment_stay_within_it() {
        assert_pattern("a**b", &["ab", "axxb", "d/ab"], &["a/b", "a/x/b"]);
        assert_pattern("/env-*/main.tf", &["env-prod/main.tf", "env-/main.tf"], &["env-prod/x/main.tf", "env/main.tf"]);
    }

    #[test]
    fn a_question_mark_is_exactly_one_character_but_never_a_slash() {
        assert_pattern("v?.tf", &["v1.tf", "x/vé.tf"], &["v.tf", "v12.tf"]);
        assert_pattern("/a?b", &["axb", "axb/c"], &["a/b", "ab"]);
    }

    #[test]
    fn paths_are_case_sensitive() {
        assert_pattern("/Docs/", &["Docs/a.md"], &["docs/a.md", "DOCS/a.md"]);
    }

    #[test]
    fn a_leading_slash_on_the_path_is_tolerated_and_an_empty_path_has_no_owner() {
        let file = owners("* @a");
        assert_eq!(file.owners_of("/main.tf"), [user("a")]);
        assert!(file.owners_of("").is_empty());
        assert!(file.owners_of("/").is_empty());
    }

    // Precedence.

    #[test]
    fn the_last_matching_rule_wins() {
        let file = owners("* @global\n*.tf @tf\n/modules/ @modules\n/modules/vpc/*.tf @network\n");
        assert_eq!(file.owners_of("README.md"), [user("global")]);
        assert_eq!(file.owners_of("envs/prod/main.tf"), [user("tf")]);
        assert_eq!(file.owners_of("modules/s3/main.tf"), [user("modules")]);
        assert_eq!(file.owners_of("modules/vpc/main.tf"), [user("network")]);
        assert_eq!(file.owners_of("modules/vpc/README.md"), [user("modules")]);
    }

    #[test]
    fn a_general_rule_after_a_specific_one_takes_over() {
        let file = owners("/router/ @routing\n*.yaml @sre\n");
        assert_eq!(file.owners_of("router/rules/eu.yaml"), [user("sre")]);
        assert_eq!(file.owners_of("router/classify.py"), [user("routing")]);
    }

    #[test]
    fn a_rule_without_owners_takes_ownership_away() {
        let file = owners("/apps/ @octocat\n/apps/github\n");
        assert_eq!(file.owners_of("apps/web/index.js"), [user("octocat")]);
        assert!(file.owners_of("apps/github/main.tf").is_empty());
        assert!(file.owners_of("apps/github").is_empty());
    }

    #[test]
    fn owners_on_separate_lines_do_not_add_up() {
        let file = owners("*.tf @a\n*.tf @b\n");
        assert_eq!(file.owners_of("main.tf"), [user("b")]);
    }

    #[test]
    fn githubs_documented_example_file() {
        let file = owners(
            "# This is a comment.\n\
             *       @global-owner1 @global-owner2\n\
             *.js    @js-owner #This is an inline comment.\n\
             *.go docs@example.com\n\
             *.txt @octo-org/octocats\n\
             /build/logs/ @doctocat\n\
             docs/*  docs@example.com\n\
             apps/ @octocat\n\
             /docs/ @doctocat\n\
             /scripts/ @doctocat @octocat\n\
             **/logs @octocat\n\
             /apps/ @octocat\n\
             /apps/github\n",
        );
        let global = [user("global-owner1"), user("global-owner2")];
        assert_eq!(file.owners_of("README.md"), global);
        assert_eq!(file.owners_of("src/app.js"), [user("js-owner")]);
        assert_eq!(file.owners_of("cmd/main.go"), [Owner::Email("docs@example.com".into())]);
        assert_eq!(file.owners_of("notes.txt"), [Owner::Team { org: "octo-org".into(), slug: "octocats".into() }]);
        assert_eq!(file.owners_of("docs/getting-started.md"), [user("doctocat")]);
        assert_eq!(file.owners_of("docs/build-app/troubleshooting.md"), [user("doctocat")]);
        assert_eq!(file.owners_of("src/apps/x.rb"), [user("octocat")]);
        assert_eq!(file.owners_of("scripts/deploy.sh"), [user("doctocat"), user("octocat")]);
        assert_eq!(file.owners_of("deeply/nested/logs/a.log"), [user("octocat")]);
        assert_eq!(file.owners_of("build/logs/a.log"), [user("octocat")]);
        assert!(file.owners_of("apps/github/x.js").is_empty());
    }

    // Reviewers.

    #[test]
    fn reviewers_split_users_and_team_slugs_and_drop_emails() {
        let file = owners("*.tf @alice @octo-org/platform ops@example.com @octo-org/sre @bob\n");
        let reviewers = file.reviewers_for(["main.tf"]);
        assert_eq!(reviewers.users, strings(&["alice", "bob"]));
        assert_eq!(reviewers.teams, strings(&["platform", "sre"]));
    }

    #[test]
    fn reviewers_are_deduplicated_in_first_seen_order() {
        let file = owners("* @carol\n*.tf @bob @org/net @alice\n/iam/ @alice @org/sec @Bob @org/NET\n");
        let reviewers = file.reviewers_for(["envs/main.tf", "iam/role.tf", "README.md", "x.tf"]);
        assert_eq!(reviewers.users, strings(&["bob", "alice", "carol"]));
        assert_eq!(reviewers.teams, strings(&["net", "sec"]));
    }

    #[test]
    fn unowned_paths_add_no_reviewers() {
        let file = owners("/apps/ @a\n/apps/github\n/docs/ docs@example.com\n");
        let reviewers = file.reviewers_for(["apps/github/main.tf", "docs/a.md", "other.tf"]);
        assert!(reviewers.is_empty());
        assert_eq!(reviewers, Reviewers::default());
        assert!(CodeOwners::default().reviewers_for(["main.tf"]).is_empty());
    }

    #[test]
    fn excluding_drops_logins_case_insensitively() {
        let file = owners("* @Alice @driftfix-bot @bob @org/alice\n");
        let reviewers = file.reviewers_for(["main.tf"]).excluding(&["alice", "@DRIFTFIX-BOT", "driftfix[bot]"]);
        assert_eq!(reviewers.users, strings(&["bob"]));
        assert_eq!(reviewers.teams, strings(&["alice"]), "teams are not logins");
    }

    #[test]
    fn reviewers_accept_owned_strings_too() {
        let file = owners("* @a\n");
        let changed: Vec<String> = ["x.tf", "y.tf"].map(str::to_owned).to_vec();
        assert_eq!(file.reviewers_for(changed.iter().map(String::as_str)).users, strings(&["a"]));
    }

    // The matcher.

    /// The obvious recursive definition, for comparison.
    fn reference_glob(pattern: &[Token], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((Token::AnyRun, rest)) => (0..=text.len()).any(|skip| reference_glob(rest, &text[skip..])),
            Some((token, rest)) => {
                text.split_first().is_some_and(|(c, tail)| token_matches(token, c) && reference_glob(rest, tail))
            }
        }
    }

    #[test]
    fn wildcard_match_handles_runs_that_must_backtrack() {
        let glob = |pattern: &str, text: &str| Segment::parse(pattern).matches(text);
        assert!(glob("*ab*ab", "xabyabab"));
        assert!(glob("a*?b", "axb"));
        assert!(!glob("a*?b", "ab"));
        assert!(glob("", ""));
        assert!(!glob("", "a"));
        assert!(glob("*", ""));
    }

    proptest! {
        #[test]
        fn glob_agrees_with_the_reference(pattern in "[ab*?]{0,8}", text in "[ab]{0,10}") {
            let Segment::Glob(tokens) = Segment::parse(&pattern) else { return Ok(()) };
            let chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(Segment::Glob(tokens.clone()).matches(&text), reference_glob(&tokens, &chars));
        }

        #[test]
        fn parsing_and_matching_never_panic(text in "[a-c*?/!#@.\\\\\\[\\] \t\n]{0,80}", path in "[a-c*?/.]{0,20}") {
            let (file, problems) = CodeOwners::parse(&text);
            prop_assert!(problems.iter().all(|problem| problem.line >= 1 && problem.line <= text.lines().count()));
            let _ = file.owners_of(&path);
            let _ = file.reviewers_for([path.as_str()]).excluding(&["a"]);
        }

        #[test]
        fn star_owns_every_non_empty_path(path in "[a-z./]{1,30}") {
            prop_assume!(path.split('/').any(|segment| !segment.is_empty()));
            let file = owners("* @a");
            prop_assert_eq!(file.owners_of(&path), [user("a")]);
        }

        #[test]
        fn unanchored_names_match_exactly_the_paths_that_contain_them(path in "[ab]{1,2}(/[ab]{1,2}){0,3}") {
            let contains_ab = path.split('/').any(|segment| segment == "ab");
            prop_assert_eq!(owned("ab", &path), contains_ab);
            let ab_is_a_directory = path.split('/').rev().skip(1).any(|segment| segment == "ab");
            prop_assert_eq!(owned("ab/", &path), ab_is_a_directory);
        }
    }
}
