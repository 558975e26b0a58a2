import Foundation
import Synchronization
import Testing
import OriginAuditCore

/// A finding whose message and key are made when read (`Finding.Deferred`) is the same finding as
/// one given those texts: equal, hashed alike, the same fingerprint, sorted alike; its texts are
/// made when read, not when it is created; and a text set on it replaces the deferred one.
@Suite struct DeferredFindingTests {
    final class Calls: Sendable {
        let count = Atomic<Int>(0)
        func made(_ text: String) -> String {
            count.add(1, ordering: .relaxed)
            return text
        }
    }

    static let location = SourceLocation(file: "etc/ssl/site.pem", line: 3, column: 1)

    static func pair(_ message: String, key: String, calls: Calls = Calls()) -> (given: Finding, deferred: Finding) {
        let given = Finding(ruleId: "tls.chain-incomplete", message: message, location: location, severity: .info,
                            predicts: "526 only in strict mode", remediation: "serve the chain", key: key)
        let deferred = Finding(ruleId: "tls.chain-incomplete", message: Finding.Deferred { calls.made(message) }, location: location,
                               severity: .info, predicts: "526 only in strict mode", remediation: "serve the chain",
                               key: Finding.Deferred { calls.made(key) })
        return (given, deferred)
    }

    @Test(arguments: ["short", String(repeating: "a long message about a certificate — ", count: 8), "é \u{1F} ü"])
    func aDeferredFindingIsTheFindingOfItsTexts(_ message: String) {
        let (given, deferred) = Self.pair(message, key: "etc/ssl/site.pem AB:CD")
        #expect(deferred.message == message)
        #expect(deferred.key == "etc/ssl/site.pem AB:CD")
        #expect(deferred == given && given == deferred)
        #expect(deferred.hashValue == given.hashValue)
        #expect(deferred.fingerprint == given.fingerprint)
        #expect(!Finding.reportOrder(deferred, given) && !Finding.reportOrder(given, deferred))
        let (other, _) = Self.pair(message + ".", key: "etc/ssl/site.pem AB:CD")
        #expect(deferred != other)
    }

    @Test func textsAreMadeWhenReadNotWhenCreated() {
        let calls = Calls()
        let (_, deferred) = Self.pair("message", key: "key", calls: calls)
        #expect(calls.count.load(ordering: .relaxed) == 0)
        _ = deferred.message
        _ = deferred.fingerprint
        #expect(calls.count.load(ordering: .relaxed) == 2)
        // A copy shares the maker; reading it makes the text again.
        let copy = deferred
        _ = copy.message
        #expect(calls.count.load(ordering: .relaxed) == 3)
    }

    @Test func aTextSetOnADeferredFindingReplacesItOnlyThere() {
        let calls = Calls()
        let (_, deferred) = Self.pair("message", key: "key", calls: calls)
        var changed = deferred
        changed.message += " (suppression expired)"
        changed.key = nil
        #expect(changed.message == "message (suppression expired)")
        #expect(changed.key == nil)
        #expect(deferred.message == "message" && deferred.key == "key")
        let before = calls.count.load(ordering: .relaxed)
        _ = changed.message
        #expect(calls.count.load(ordering: .relaxed) == before)
    }

    /// Sorting compares messages where place and rule id tie: a deferred message sorts as its text.
    @Test func deferredMessagesSortAsTheirTexts() {
        let texts = ["b message", "a message", "c message", "a message"]
        var deferred = texts.map { Self.pair($0, key: "k").deferred }
        var given = texts.map { Self.pair($0, key: "k").given }
        var deferredTies: [Bool] = [], givenTies: [Bool] = []
        Finding.sortInReportOrder(&deferred, ties: &deferredTies)
        Finding.sortInReportOrder(&given, ties: &givenTies)
        #expect(deferred.map(\.message) == given.map(\.message))
        #expect(deferred.map(\.message) == texts.sorted())
        #expect(deferredTies == givenTies && deferredTies == [false, true, false, false])
    }
}
