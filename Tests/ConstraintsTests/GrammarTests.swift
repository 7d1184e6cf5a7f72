@testable import Constraints
import Foundation
import Testing

@Suite("Grammars")
struct GrammarTests {
    // Grammars in llama.cpp's GBNF format, written for these tests after the examples in llama.cpp's
    // grammars/ folder (json, arithmetic, list, chess): the same syntax features (literals with escapes, classes
    // with ranges and \x/\u escapes, negated classes, groups spanning lines, * + ? {m,n}, comments).
    static let jsonGBNF = #"""
    # JSON values (objects at the root)
    root   ::= object
    value  ::= object | array | string | number | ("true" | "false" | "null") ws

    object ::=
      "{" ws (
                string ":" ws value
        ("," ws string ":" ws value)*
      )? "}" ws

    array  ::=
      "[" ws (
                value
        ("," ws value)*
      )? "]" ws

    string ::=
      "\"" (
        [^"\\\x7F\x00-\x1F] |
        "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
      )* "\"" ws

    number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
    ws ::= | " " | "\n" [ \t]{0,20}
    """#

    static let arithmeticGBNF = #"""
    root  ::= (expr "=" ws term "\n")+
    expr  ::= term ([-+*/] ws term)*
    term  ::= ident | num | "(" ws expr ")" ws
    ident ::= [a-z] [a-z0-9_]* ws
    num   ::= [0-9]+ ws
    ws    ::= [ \t\n]*
    """#

    static let listGBNF = #"""
    root ::= item+
    # no line breaks inside an item
    item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
    """#

    static let chessGBNF = #"""
    root    ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
    move    ::= (pawn | nonpawn | castle) [+#]?
    nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
    pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
    castle  ::= "O-O" "-O"?
    """#

    @Test func gbnfJSON() throws {
        let g = try grammar(.grammar(Self.jsonGBNF))
        #expect(accepts(g, #"{"a": [1, 2.5, -3e5], "b": {"c": "x\n\u00e9"}, "d": true}"#))
        #expect(accepts(g, "{}"))
        #expect(accepts(g, "{\n  \"k\": null}"))
        #expect(!accepts(g, #"{"a": }"#))
        #expect(!accepts(g, #"[1]"#))              // root is an object
        #expect(!accepts(g, #"{"a": 01x}"#))
        #expect(accepts(g, "{\"é\": \"日本\"}"))
    }

    @Test func gbnfArithmetic() throws {
        let g = try grammar(.grammar(Self.arithmeticGBNF))
        #expect(accepts(g, "1+2=3\n"))
        #expect(accepts(g, "(a + b) * c2 = x\n12/4=3\n"))
        #expect(!accepts(g, "1+=3\n"))
        #expect(!accepts(g, "1+2=3"))
    }

    @Test func gbnfList() throws {
        let g = try grammar(.grammar(Self.listGBNF))
        #expect(accepts(g, "- milk\n- eggs ünd bread\n"))
        #expect(!accepts(g, "- \n"))
        #expect(!accepts(g, "- a\u{2028}b\n"))
        #expect(!accepts(g, "* a\n"))
    }

    @Test func gbnfChess() throws {
        let g = try grammar(.grammar(Self.chessGBNF))
        #expect(accepts(g, "1. e4 e5\n2. Nf3 Nc6\n3. Bb5 a6\n"))
        #expect(accepts(g, "1. d4 d5\n2. O-O-O exd5+\n"))
        #expect(!accepts(g, "1. e4 e5\n"))            // at least one more move pair
        #expect(!accepts(g, "1. e9 e5\n2. a3 a6\n"))
    }

    @Test func gbnfErrors() {
        #expect(throws: ConstraintError.self) { try grammar(.grammar("root ::= foo")) }          // undefined rule
        #expect(throws: ConstraintError.self) { try grammar(.grammar("start ::= \"a\"")) }      // no root
        #expect(throws: ConstraintError.self) { try grammar(.grammar("root ::= root \"a\" | \"b\"")) }   // left recursion
        #expect(throws: ConstraintError.self) { try grammar(.grammar("root ::= \"a")) }         // unterminated
        do { _ = try grammar(.grammar("root ::= a\na ::= [b")); Issue.record("no error") }
        catch let e as ConstraintError { #expect(e.message.hasPrefix("GBNF line 2:")) } catch { Issue.record("\(error)") }
    }

    @Test func regex() throws {
        let cases: [(String, [String], [String])] = [
            (#"\d{3}-\d{4}"#, ["555-1234"], ["5551234", "55-1234", "555-12345"]),
            (#"^(cat|dog)s?$"#, ["cat", "dogs"], ["cats!", "bird"]),
            (#"[A-Z][a-z]+( [A-Z][a-z]+)*"#, ["Ada", "Ada Lovelace"], ["ada", "Ada lovelace"]),
            (#"[^aeiou]{2,3}"#, ["xyz", "bc"], ["a", "bcde", "ab"]),
            (#"(?:\w+@\w+\.com)"#, ["me@x.com"], ["me@x.org"]),
            (#"a.c"#, ["abc", "a€c"], ["a\nc", "ac"]),
            (#"x{2,}"#, ["xx", "xxxxx"], ["x"]),
            (#"\(\d+\)"#, ["(12)"], ["12"]),
            (#"[\d.]+"#, ["3.14"], ["3,14"]),
            (#"colou?r"#, ["color", "colour"], ["colouur"]),
        ]
        for (p, good, bad) in cases {
            let g = try grammar(.regex(p))
            for s in good { #expect(accepts(g, s), "\(p) should match \(s)") }
            for s in bad { #expect(!accepts(g, s), "\(p) should not match \(s)") }
        }
        #expect(throws: ConstraintError.self) { try grammar(.regex(#"(a)\1"#)) }
        #expect(throws: ConstraintError.self) { try grammar(.regex(#"a(?=b)"#)) }
        #expect(throws: ConstraintError.self) { try grammar(.regex(#"(ab"#)) }
    }

    @Test func choice() throws {
        let g = try grammar(.choice(["yes", "no", "maybe so"]))
        for s in ["yes", "no", "maybe so"] { #expect(accepts(g, s)) }
        for s in ["ye", "yes ", "maybe", ""] { #expect(!accepts(g, s)) }
    }

    @Test func unicodeRanges() throws {
        // Every scalar of a few ranges crossing UTF-8 length boundaries is matched, and nothing next to them.
        for (lo, hi) in [(0x70, 0x90), (0x7F0, 0x810), (0xFFF0, 0x10010), (0xD7F0, 0xE010), (0x10FFF0, 0x10FFFF)] as [(UInt32, UInt32)] {
            let g = try grammar(.grammar(String(format: "root ::= [\\U%08X-\\U%08X]", lo, hi)))
            for v in (lo > 16 ? lo - 16 : 0)...min(hi + 16, 0x10FFFF) {
                guard let u = Unicode.Scalar(v) else { continue }
                #expect(accepts(g, String(Character(u))) == (v >= lo && v <= hi), "U+\(String(v, radix: 16))")
            }
        }
    }

    /// The trie walk gives exactly the brute-force mask (each token advanced alone) on a random vocabulary of
    /// multi-byte tokens, at every configuration a random run visits.
    @Test func masksEqualBruteForce() throws {
        var rng = SplitMix(seed: 7)
        let alphabet = Array("{}[]\":, \n0123456789-.eabcdefnrstu\\".utf8) + [0xC3, 0xA9]
        var tokens: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        for _ in 0..<3000 { tokens.append((0..<rng.int(2...6)).map { _ in alphabet[rng.int(0...(alphabet.count - 1))] }) }
        tokens.append(nil)   // a control token
        let vocab = VocabIndex(tokenBytes: tokens, stopIds: [Int32(tokens.count - 1)])
        let grammars = [try grammar(.jsonObject), try grammar(.grammar(Self.jsonGBNF)),
                        try grammar(.jsonSchema(#"{"type":"object","properties":{"a":{"type":"integer","minimum":-20,"maximum":300},"b":{"enum":["x","y z"]}},"required":["a"]}"#))]
        for g in grammars {
            let idx = GrammarIndex(grammar: g, vocab: vocab)
            var s = ConstraintState(index: idx)
            for _ in 0..<60 {
                var allowed: [Int32] = []
                s.withMask { mask, _ in
                    for t in 0..<vocab.vocabSize where mask[t / 32] & (1 << UInt32(t % 32)) != 0 { allowed.append(Int32(t)) }
                }
                let brute = (0..<Int32(vocab.vocabSize)).filter { idx.advance(s.config, token: $0) >= 0 }
                #expect(allowed == brute)
                let moves = allowed.filter { !vocab.stopIds.contains($0) }
                if moves.isEmpty { break }
                s.advance(moves[rng.int(0...(moves.count - 1))])
            }
        }
    }
}
