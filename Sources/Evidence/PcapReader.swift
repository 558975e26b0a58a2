#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libpcap, loaded when a capture is read.
///
/// It is opened with `dlopen` rather than linked: libpcap pulls in D-Bus, systemd, libgcrypt and
/// three compressors (`ldd libpcap.so.0.8`), which every other command of a configuration auditor
/// would then load at each start and every package would have to depend on. Only `evidence`
/// needs it, and says so when it is missing. The few entry points used have had the same C
/// signatures since libpcap 1.5.
final class LibPcap: @unchecked Sendable {
    // pcap_t *pcap_open_offline_with_tstamp_precision(const char *, u_int, char *)
    typealias OpenOffline = @convention(c) (UnsafePointer<CChar>, UInt32, UnsafeMutablePointer<CChar>) -> OpaquePointer?
    // int pcap_next_ex(pcap_t *, struct pcap_pkthdr **, const u_char **)
    typealias NextEx = @convention(c) (OpaquePointer, UnsafeMutablePointer<UnsafeRawPointer?>, UnsafeMutablePointer<UnsafeRawPointer?>) -> Int32
    typealias Datalink = @convention(c) (OpaquePointer) -> Int32
    typealias Close = @convention(c) (OpaquePointer) -> Void
    typealias GetErr = @convention(c) (OpaquePointer) -> UnsafeMutablePointer<CChar>?
    typealias NameOf = @convention(c) (Int32) -> UnsafePointer<CChar>?

    // Immutable after init; C function pointers capture nothing.
    let openOffline: OpenOffline
    let nextEx: NextEx
    let datalink: Datalink
    let close: Close
    let geterr: GetErr
    let datalinkName: NameOf?

    /// The library, or why it cannot be loaded.
    static let shared: Result<LibPcap, CaptureError> = {
        let candidates = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so", "libpcap.A.dylib", "libpcap.dylib"]
        guard let handle = candidates.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_LOCAL) }).first else {
            return .failure(CaptureError(file: nil, message: "libpcap is not installed; `evidence` reads captures with it (Debian: apt-get install libpcap0.8)"))
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let open = symbol("pcap_open_offline_with_tstamp_precision", as: OpenOffline.self),
              let next = symbol("pcap_next_ex", as: NextEx.self),
              let link = symbol("pcap_datalink", as: Datalink.self),
              let close = symbol("pcap_close", as: Close.self),
              let geterr = symbol("pcap_geterr", as: GetErr.self) else {
            return .failure(CaptureError(file: nil, message: "the installed libpcap is older than 1.5 (no pcap_open_offline_with_tstamp_precision)"))
        }
        return .success(LibPcap(openOffline: open, nextEx: next, datalink: link, close: close, geterr: geterr,
                                datalinkName: symbol("pcap_datalink_val_to_name", as: NameOf.self)))
    }()

    private init(openOffline: OpenOffline, nextEx: NextEx, datalink: Datalink, close: Close, geterr: GetErr, datalinkName: NameOf?) {
        self.openOffline = openOffline
        self.nextEx = nextEx
        self.datalink = datalink
        self.close = close
        self.geterr = geterr
        self.datalinkName = datalinkName
    }
}

/// A capture that cannot be read, or stopped being readable part-way.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var message: String
    public var description: String { file.map { "\($0): \(message)" } ?? message }
}

/// One packet as the capture holds it: when, how long it was on the wire, and the bytes kept.
struct CapturedPacket {
    /// Nanoseconds since the epoch.
    var time: Int64
    /// Length on the wire; `bytes` may be shorter (the snap length).
    var wireLength: Int
    var bytes: UnsafeRawBufferPointer
}

/// Reads a pcap or pcapng file (or `-`, standard input) packet by packet, in constant memory.
struct PcapReader {
    let path: String
    private let library: LibPcap
    private let handle: OpaquePointer
    let linkType: Int32

    /// Opens the capture; a file that is not a capture is an error naming it.
    init(path: String) throws(CaptureError) {
        let library: LibPcap
        switch LibPcap.shared {
        case .success(let loaded): library = loaded
        case .failure(let error): throw error
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        // PCAP_TSTAMP_PRECISION_NANO = 1: microsecond files are scaled up by libpcap.
        guard let handle = path.withCString({ library.openOffline($0, 1, &errorBuffer) }) else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureError(file: path, message: "not a readable pcap or pcapng capture (libpcap: \(message))")
        }
        self.path = path
        self.library = library
        self.handle = handle
        self.linkType = library.datalink(handle)
    }

    /// The link type's name as libpcap gives it (`EN10MB`, `LINUX_SLL2`).
    var linkTypeName: String {
        guard let name = library.datalinkName?(linkType) else { return "\(linkType)" }
        return String(cString: name)
    }

    /// Calls `body` for every packet; returns nil at the end of the file, or the error that
    /// stopped the reading (a truncated file: the packets before it were delivered).
    func forEach(_ body: (CapturedPacket) -> Void) -> CaptureError? {
        var header: UnsafeRawPointer?
        var data: UnsafeRawPointer?
        let word = MemoryLayout<Int>.size
        while true {
            let status = library.nextEx(handle, &header, &data)
            if status == 1, let header, let data {
                // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }
                // (tv_usec holds nanoseconds when opened with nanosecond precision).
                let seconds = header.loadUnaligned(fromByteOffset: 0, as: Int.self)
                let fraction = header.loadUnaligned(fromByteOffset: word, as: Int.self)
                let captured = header.loadUnaligned(fromByteOffset: 2 * word, as: UInt32.self)
                let wire = header.loadUnaligned(fromByteOffset: 2 * word + 4, as: UInt32.self)
                body(CapturedPacket(time: Int64(seconds) &* 1_000_000_000 &+ Int64(fraction), wireLength: Int(wire),
                                    bytes: UnsafeRawBufferPointer(start: data, count: Int(captured))))
            } else if status == 0 {
                continue  // live captures only: a timeout
            } else if status == -2 {
                return nil
            } else {
                let message = library.geterr(handle).map { String(cString: $0) } ?? "read error"
                return CaptureError(file: path, message: message)
            }
        }
    }

    func close() { library.close(handle) }
}
