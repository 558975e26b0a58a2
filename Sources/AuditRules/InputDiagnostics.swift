/// The ids the input pipeline reports while discovering and parsing files.
public enum InputDiagnostics {
    public static let parseError = "input.parse-error"
    public static let includeMissing = "input.include-missing"
    public static let unreadable = "input.unreadable"
    public static let unknownFormat = "input.unknown-format"
    public static let unresolved = "input.unresolved"

    /// Ids this build's pipeline really emits: each parser adds the ids it emits here when it
    /// lands (include-missing and unresolved come with the web-server parsers).
    public static let ids: Set<String> = [parseError, includeMissing, unreadable, unknownFormat, unresolved]
}
