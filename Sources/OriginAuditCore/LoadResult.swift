/// What a loader returns: the model it built, the findings it raised while reading (parse
/// errors, missing includes, …), notes about analysis limits, and every file it read.
public struct LoadResult<Model: Sendable>: Sendable {
    public var model: Model
    public var findings: [Finding]
    /// Plain statements about what was not analysed and why (shown in every report format).
    public var notes: [String]
    /// Files read, as shown in reports.
    public var files: [String]

    public init(model: Model, findings: [Finding] = [], notes: [String] = [], files: [String] = []) {
        self.model = model
        self.findings = findings
        self.notes = notes
        self.files = files
    }
}
