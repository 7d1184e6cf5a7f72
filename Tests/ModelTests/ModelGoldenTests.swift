import Foundation
import Model
import Testing

extension ModelSuite {
@Suite("Golden greedy outputs from the independent reference", .serialized)
struct ModelGoldenTests {
    struct StoriesGolden: Decodable { let prompt_ids: [Int32]; let generated_ids: [Int32] }
    struct SmolGolden: Decodable {
        struct Case: Decodable {
            let name: String; let prompt_ids: [Int32]; let generated_ids: [Int32]; let stopped_on_eos: Bool?
        }
        let cases: [Case]
    }

    @Test func stories260KAll256Tokens() throws {
        let g = try JSONDecoder().decode(StoriesGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.storiesGolden)))
        #expect(g.generated_ids.count == 256)
        let r = greedy(Models.stories, prompt: g.prompt_ids, steps: 256)
        #expect(r.ids == g.generated_ids)
    }

    @Test func smolLM2GoldenCases() throws {
        let g = try JSONDecoder().decode(SmolGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.smolGolden)))
        #expect(g.cases.count == 2)
        for c in g.cases {
            // One step more than the golden when it ended on EOS, so the EOS itself is checked too.
            let eos = c.stopped_on_eos ?? false
            let r = greedy(Models.smol, prompt: c.prompt_ids, steps: c.generated_ids.count + (eos ? 1 : 0), stop: 2)
            #expect(r.ids == c.generated_ids, "case \(c.name)")
        }
    }

    @Test(arguments: 0..<6) func storiesOracleFixture(_ i: Int) throws {
        try checkOracle(Models.stories, fixture: "stories_\(i).json")
    }

    @Test(arguments: 0..<6) func smolOracleFixture(_ i: Int) throws {
        try checkOracle(Models.smol, fixture: "smollm2_\(i).json")
    }

    /// Same greedy ids as the oracle, and the oracle's top-5 logits within a relative 1e-3.
    func checkOracle(_ m: DecoderModel, fixture: String) throws {
        let g = try JSONDecoder().decode(OracleGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture(fixture))))
        let r = greedy(m, prompt: g.prompt_ids, steps: g.top_logits.count, stop: 2)   // EOS is id 2 in both models
        #expect(r.ids == g.generated_ids, "\(fixture)")
        for (step, tops) in g.top_logits.enumerated() where step < r.logits.count {
            let row = r.logits[step]
            let scale = max(1, tops.map { abs($0[1]) }.max()!)
            for pair in tops {
                let id = Int(pair[0]), want = pair[1]
                #expect(abs(Double(row[id]) - want) <= 1e-3 * scale, "\(fixture) step \(step) token \(id): \(row[id]) vs \(want)")
            }
        }
    }
}
}
