@testable import Bench
import Foundation
import Testing

@Suite struct SSETests {
    @Test func eventsSplitAcrossReadsAndLineEndings() {
        var p = SSEParser()
        // One event cut in the middle of "data:", a CRLF event, a comment, a two-line event, then [DONE].
        var events = p.feed(Array("da".utf8))
        #expect(events.isEmpty)
        events += p.feed(Array("ta: {\"a\":1}\n".utf8))
        events += p.feed(Array("\ndata:{\"b\":2}\r\n\r\n: keep-alive\n\n".utf8))
        events += p.feed(Array("data: x\ndata: y\n\ndata: [DONE]\n".utf8))
        #expect(events == ["{\"a\":1}", "{\"b\":2}", "x\ny"])
        events += p.feed(Array("\n".utf8))
        #expect(events.last == "[DONE]")
    }

    @Test func recorderTimesTokensNotControlChunks() {
        let t0 = ContinuousClock.now
        var r = StreamRecorder(start: t0)
        // chat: role-only chunk (no content) at 50 ms does not count; tokens at 100, 150, 300 ms;
        // a bare finish chunk and a usage chunk do not count; [DONE] at 350 ms.
        r.consume(#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#, at: t0 + .milliseconds(50))
        r.consume(#"{"choices":[{"index":0,"delta":{"content":"Once"}}]}"#, at: t0 + .milliseconds(100))
        r.consume(#"{"choices":[{"index":0,"delta":{"content":" upon"}}]}"#, at: t0 + .milliseconds(150))
        r.consume(#"{"choices":[{"index":0,"delta":{"content":""}}]}"#, at: t0 + .milliseconds(300))
        r.consume(#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#, at: t0 + .milliseconds(310))
        r.consume(#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#, at: t0 + .milliseconds(320))
        r.consume("[DONE]", at: t0 + .milliseconds(350))
        #expect(r.tokenEvents == 3)
        #expect(close(r.ttft ?? -1, 0.1))
        #expect(r.itl.count == 2 && close(r.itl[0], 0.05) && close(r.itl[1], 0.15))
        #expect(r.usage?.completion_tokens == 3 && r.usage?.prompt_tokens == 7)
        #expect(r.done && r.error == nil)
    }

    @Test func completionsCountEveryChoiceChunk() {
        let t0 = ContinuousClock.now
        var r = StreamRecorder(start: t0)
        // The last token may decode to "" (a held-back partial UTF-8 byte) and arrive with the finish reason.
        r.consume(#"{"choices":[{"index":0,"text":"a","finish_reason":null}]}"#, at: t0 + .milliseconds(10))
        r.consume(#"{"choices":[{"index":0,"text":"","finish_reason":null}]}"#, at: t0 + .milliseconds(20))
        r.consume(#"{"choices":[{"index":0,"text":"","finish_reason":"length"}]}"#, at: t0 + .milliseconds(40))
        r.consume(#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#, at: t0 + .milliseconds(41))
        r.consume("[DONE]", at: t0 + .milliseconds(42))
        #expect(r.tokenEvents == 3 && r.itl.count == 2 && close(r.itl[1], 0.02) && close(r.ttft ?? -1, 0.01))
    }

    @Test func recorderReportsErrorEvents() {
        let t0 = ContinuousClock.now
        var r = StreamRecorder(start: t0)
        r.consume(#"{"choices":[{"index":0,"text":"a"}]}"#, at: t0)
        r.consume(#"{"error":{"message":"boom","type":"server_error"}}"#, at: t0)
        #expect(r.error == "server error: boom")
    }
}

@Suite struct ArrivalTests {
    @Test func infiniteRateSendsEverythingAtOnce() {
        #expect(ArrivalSchedule.offsets(count: 5, rate: .infinity, burstiness: 1, seed: 1) == [0, 0, 0, 0, 0])
    }

    /// Gamma(shape B, scale 1/(R·B)) gaps: mean 1/R, squared coefficient of variation 1/B.
    @Test(arguments: [(10.0, 1.0), (4.0, 0.25), (20.0, 4.0)])
    func gapsHaveTheRequestedMeanAndBurstiness(rate: Double, burstiness: Double) {
        let n = 40_000
        let t = ArrivalSchedule.offsets(count: n, rate: rate, burstiness: burstiness, seed: 42)
        #expect(t[0] == 0)
        let gaps = (1..<n).map { t[$0] - t[$0 - 1] }
        #expect(gaps.allSatisfy { $0 >= 0 })
        let mean = Stats.mean(gaps), cv2 = pow(Stats.std(gaps) / mean, 2)
        #expect(abs(mean * rate - 1) < 0.03, "mean gap \(mean)")
        #expect(abs(cv2 * burstiness - 1) < 0.08, "cv² \(cv2)")
    }

    @Test func sameSeedSameSchedule() {
        let a = ArrivalSchedule.offsets(count: 50, rate: 5, burstiness: 0.5, seed: 7)
        #expect(a == ArrivalSchedule.offsets(count: 50, rate: 5, burstiness: 0.5, seed: 7))
        #expect(a != ArrivalSchedule.offsets(count: 50, rate: 5, burstiness: 0.5, seed: 8))
    }
}
