/// A place in an input file. Lines and columns count from 1; a column of 0 means "whole line".
/// nft JSON rules have no line of their own: `handle` carries the kernel's rule handle instead.
public struct SourceLocation: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The path as the user named it (relative to the scanned root where there is one).
    public var file: String
    public var line: Int
    public var column: Int
    public var handle: Int?

    public init(file: String, line: Int = 0, column: Int = 0, handle: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.handle = handle
    }

    public var description: String {
        var text = file
        if line > 0 { text += ":\(line)" }
        if line > 0 && column > 0 { text += ":\(column)" }
        if let handle { text += " (handle \(handle))" }
        return text
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column, a.handle ?? 0) < (b.file, b.line, b.column, b.handle ?? 0)
    }
}

/// Computes line and column from a byte offset once, for parsers that keep offsets while lexing.
public struct LineIndex: Sendable {
    /// Byte offset of the start of every line.
    public let lineStarts: [Int]

    public init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        var starts = [bytes.startIndex]
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 0x0A { starts.append(index + 1) }
            index += 1
        }
        lineStarts = starts
    }

    /// 1-based (line, column) of a byte offset.
    public func position(of offset: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }
}
