import Foundation

/// A self-contained SVG of a sweep: output throughput (x) against latency (y), TTFT in the left panel and TPOT in
/// the right, one colour per server, p50 solid with circles and p99 dashed with squares, each point labelled with
/// its rate or concurrency.
public enum SweepChart {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    static let width = 1100.0, height = 560.0
    static let plotTop = 80.0, plotHeight = 340.0, plotWidth = 420.0
    static let panelLeft = [90.0, 620.0]

    /// One (x, y) line of a panel.
    struct Line {
        var color: String
        var dashed: Bool
        var points: [(x: Double, y: Double, label: String)]
    }

    public static func svg(_ series: [SweepSeries], title: String) -> String {
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
        viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="32" text-anchor="middle" font-size="19" font-weight="bold">\(escape(title))</text>

        """
        let xMax = series.flatMap(\.points).map(\.result.metrics.outputThroughput).max() ?? 0
        let panels: [(String, (BenchmarkMetrics) -> Distribution)] = [("Time to first token", \.ttft),
                                                                       ("Time per output token (excl. 1st)", \.tpot)]
        for (i, (name, metric)) in panels.enumerated() {
            let lines = panelLines(series, metric)
            let yMax = lines.flatMap(\.points).map(\.y).max() ?? 0
            out += panel(left: panelLeft[i], title: name, lines: lines, xMax: xMax, yMax: yMax)
        }
        out += legend(series)
        return out + "</svg>\n"
    }

    static func panelLines(_ series: [SweepSeries], _ metric: (BenchmarkMetrics) -> Distribution) -> [Line] {
        var lines: [Line] = []
        for (k, s) in series.enumerated() {
            let color = palette[k % palette.count]
            let pts = s.points.map { (x: $0.result.metrics.outputThroughput, d: metric($0.result.metrics), label: $0.variable.shortLabel) }
            lines.append(Line(color: color, dashed: false, points: pts.map { ($0.x, $0.d.median, $0.label) }))
            lines.append(Line(color: color, dashed: true, points: pts.map { ($0.x, $0.d.p99, "") }))
        }
        return lines
    }

    /// Axes, grid, ticks and the lines of one panel.
    static func panel(left: Double, title: String, lines: [Line], xMax: Double, yMax: Double) -> String {
        let xs = ticks(xMax), ys = ticks(yMax)
        let xTop = xs.last ?? 1, yTop = ys.last ?? 1
        func px(_ x: Double) -> Double { left + x / xTop * plotWidth }
        func py(_ y: Double) -> Double { plotTop + plotHeight - y / yTop * plotHeight }
        let bottom = plotTop + plotHeight
        var out = "<g>\n<text x=\"\(left + plotWidth / 2)\" y=\"\(plotTop - 14)\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
        for t in ys {
            out += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + plotWidth)\" y2=\"\(py(t))\" stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(left - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\" font-size=\"12\">\(tickText(t))</text>\n"
        }
        for t in xs {
            out += "<line x1=\"\(px(t))\" y1=\"\(bottom)\" x2=\"\(px(t))\" y2=\"\(bottom + 5)\" stroke=\"black\"/>\n"
            out += "<text x=\"\(px(t))\" y=\"\(bottom + 20)\" text-anchor=\"middle\" font-size=\"12\">\(tickText(t))</text>\n"
        }
        out += "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(left + plotWidth)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(plotTop)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
        out += "<text x=\"\(left + plotWidth / 2)\" y=\"\(bottom + 44)\" text-anchor=\"middle\" font-size=\"13\">Output throughput (tokens/s)</text>\n"
        out += "<text transform=\"translate(\(left - 58),\(plotTop + plotHeight / 2)) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">Latency (ms)</text>\n"
        for line in lines { out += draw(line, px: px, py: py) }
        return out + "</g>\n"
    }

    static func draw(_ line: Line, px: (Double) -> Double, py: (Double) -> Double) -> String {
        let pts = line.points.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
        let dash = line.dashed ? " stroke-dasharray=\"6,4\"" : ""
        var out = "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
        for p in line.points {
            let (x, y) = (px(p.x), py(p.y))
            if line.dashed {
                out += "<rect x=\"\(x - 3.5)\" y=\"\(y - 3.5)\" width=\"7\" height=\"7\" fill=\"white\" stroke=\"\(line.color)\" stroke-width=\"1.5\"/>\n"
            } else {
                out += "<circle cx=\"\(x)\" cy=\"\(y)\" r=\"4\" fill=\"\(line.color)\"/>\n"
            }
            if !p.label.isEmpty {
                out += "<text x=\"\(x + 6)\" y=\"\(y - 7)\" font-size=\"10\" fill=\"\(line.color)\">\(escape(p.label))</text>\n"
            }
        }
        return out
    }

    static func legend(_ series: [SweepSeries]) -> String {
        var out = "<g font-size=\"13\">\n"
        var x = 90.0
        let y = height - 40
        for (k, s) in series.enumerated() {
            let c = palette[k % palette.count]
            out += "<line x1=\"\(x)\" y1=\"\(y)\" x2=\"\(x + 28)\" y2=\"\(y)\" stroke=\"\(c)\" stroke-width=\"2\"/>"
            out += "<circle cx=\"\(x + 14)\" cy=\"\(y)\" r=\"4\" fill=\"\(c)\"/>\n"
            out += "<text x=\"\(x + 34)\" y=\"\(y + 4)\">\(escape(s.label)) p50</text>\n"
            x += 44 + Double(s.label.count + 4) * 7.5
            out += "<line x1=\"\(x)\" y1=\"\(y)\" x2=\"\(x + 28)\" y2=\"\(y)\" stroke=\"\(c)\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>"
            out += "<rect x=\"\(x + 10.5)\" y=\"\(y - 3.5)\" width=\"7\" height=\"7\" fill=\"white\" stroke=\"\(c)\" stroke-width=\"1.5\"/>\n"
            out += "<text x=\"\(x + 34)\" y=\"\(y + 4)\">\(escape(s.label)) p99</text>\n"
            x += 60 + Double(s.label.count + 4) * 7.5
        }
        out += "<text x=\"90\" y=\"\(height - 14)\" font-size=\"11\" fill=\"#555\">Point labels: request rate (req/s) or concurrency (cN).</text>\n"
        return out + "</g>\n"
    }

    /// 0, step, 2·step, … up to the first tick ≥ max, with step 1, 2 or 5 × 10^k giving about five intervals.
    public static func ticks(_ max: Double) -> [Double] {
        guard max > 0, max.isFinite else { return [0, 1] }
        let raw = max / 5
        let mag = pow(10, (log10(raw)).rounded(.down))
        let f = raw / mag
        let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag
        let n = Int((max / step - 1e-9).rounded(.up))
        return (0...Swift.max(n, 1)).map { Double($0) * step }
    }

    static func tickText(_ t: Double) -> String {
        if t == t.rounded() && abs(t) < 1e9 { return String(Int(t)) }
        return String(format: "%g", t)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
