import Foundation

/// Validates SARIF text against the OASIS SARIF 2.1.0 JSON schema in the shared data folder,
/// using Python's jsonschema as the judge.
public enum SARIFValidation {
    public static var schemaPath: String {
        TestTools.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/sarif-schema-2.1.0.json").path
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public static func validate(_ sarif: String) throws {
        guard FileManager.default.fileExists(atPath: schemaPath) else {
            throw Invalid(description: "the SARIF schema is missing at \(schemaPath) (shared/ must sit beside the repository)")
        }
        let directory = try TestTools.temporaryDirectory("sarif")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("report.sarif")
        try sarif.write(to: file, atomically: true, encoding: .utf8)
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        document = json.load(open(sys.argv[2]))
        validator = jsonschema.Draft7Validator(schema)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        for error in errors[:10]:
            print("/".join(str(p) for p in error.path), error.message[:300])
        sys.exit(1 if errors else 0)
        """
        let result = try TestTools.run("python3", ["-c", script, schemaPath, file.path], timeout: 120)
        guard result.status == 0 else {
            throw Invalid(description: "SARIF does not validate:\n\(result.stdout)\(result.stderr)")
        }
    }
}
