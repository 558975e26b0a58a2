import Foundation

/// Validates JSON documents against the JSON schemas the repository carries, using Python's
/// jsonschema as the judge: the OASIS SARIF 2.1.0 schema (Tests/Data) and the JSON report's
/// published schema (Schemas/report.schema.json).
public enum SchemaValidation {
    public enum Schema: Sendable {
        /// The OASIS SARIF 2.1.0 schema, for `--format sarif`.
        case sarif
        /// Our own contract, for `--format json`.
        case report

        public var path: String {
            switch self {
            case .sarif: TestTools.packageRoot.appendingPathComponent("Tests/Data/sarif-schema-2.1.0.json").path
            case .report: TestTools.packageRoot.appendingPathComponent("Schemas/report.schema.json").path
            }
        }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public static func validate(_ document: String, against schema: Schema) throws {
        guard FileManager.default.fileExists(atPath: schema.path) else {
            throw Invalid(description: "the schema is missing at \(schema.path)")
        }
        let directory = try TestTools.temporaryDirectory("schema")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("document.json")
        try document.write(to: file, atomically: true, encoding: .utf8)
        // The schema names its own draft; check_schema first, so a broken schema is not a pass.
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        document = json.load(open(sys.argv[2]))
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = validator_class(schema)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        for error in errors[:10]:
            print("/".join(str(p) for p in error.path), error.message[:300])
        sys.exit(1 if errors else 0)
        """
        let result = try TestTools.run("python3", ["-c", script, schema.path, file.path], timeout: 120)
        guard result.status == 0 else {
            throw Invalid(description: "\(schema) document does not validate against \(schema.path):\n\(result.stdout)\(result.stderr)")
        }
    }
}

/// SARIF against the OASIS 2.1.0 schema.
public enum SARIFValidation {
    public typealias Invalid = SchemaValidation.Invalid

    public static func validate(_ sarif: String) throws {
        try SchemaValidation.validate(sarif, against: .sarif)
    }
}
