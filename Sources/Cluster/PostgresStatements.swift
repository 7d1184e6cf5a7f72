import Engine
import Foundation
import PostgresNIO

// The statements on the hot paths (one per request, per token flush, per claim) are prepared once per connection:
// the server then skips parsing and planning, which was most of a round trip's cost (the unprepared append with
// its CTEs took ~1 ms against ~0.3 ms for `SELECT 1` on a loaded 2-core machine).

/// Inserts a request; assigns it at once to `instance` when the fast-path conditions hold (see
/// `DistributedQueue.enqueue(_:directTo:timing:)`), and wakes that instance or the routers' schedulers.
struct EnqueueStatement: PostgresPreparedStatement {
    static let sql = """
        WITH ok AS (
            SELECT $7::text <> ''
               AND NOT EXISTS (SELECT 1 FROM swiftlet_requests WHERE state = 'queued' AND priority <= $5)
               AND NOT EXISTS (SELECT 1 FROM swiftlet_requests WHERE state = 'assigned' AND instance = $7 AND NOT started)
               AND EXISTS (SELECT 1 FROM swiftlet_instances WHERE name = $7 AND NOT draining
                           AND heartbeat > clock_timestamp() - make_interval(secs => $8)) AS direct),
        i AS (
            INSERT INTO swiftlet_requests (id, origin, prompt, params, priority, prefix_hash, state, instance,
                                           assigned_at, lease_expiry, attempts)
            SELECT $1, $2, $3, $4::jsonb, $5, $6,
                   CASE WHEN direct THEN 'assigned' ELSE 'queued' END,
                   CASE WHEN direct THEN $7 END,
                   CASE WHEN direct THEN clock_timestamp() END,
                   CASE WHEN direct THEN clock_timestamp() + make_interval(secs => $8) END,
                   CASE WHEN direct THEN 1 ELSE 0 END
            FROM ok RETURNING state, instance)
        SELECT state = 'assigned',
               pg_notify(CASE WHEN state = 'assigned' THEN 'swiftlet_work_' || instance ELSE 'swiftlet_sched' END, '')::text
        FROM i
        """
    typealias Row = Bool
    var request: QueuedRequest
    var params: String
    var instance: String
    var leaseSeconds: Double

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 8)
        b.append(request.id); b.append(request.origin); b.append(request.prompt); b.append(params)
        b.append(Int32(clamping: request.priority)); b.append(request.prefixHash); b.append(instance); b.append(leaseSeconds)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Bool { try row.decode((Bool, String).self).0 }
}

/// Appends token deltas, fenced by owner, state and count (exactly once), and in the same statement notifies each
/// request's router with the new tokens (`id start finish tokens` lines, at most 32 per notification; `*` when the
/// router must read the row: stop reasons, errors, logprobs, long deltas), plus the schedulers when a request ended. Returns the accepted ids.
///
/// The rows are locked first, in id order (`lk`), as the heartbeat's lease extension locks them: the update's own
/// join order is the planner's, and an append and a heartbeat of the same instance that locked the same rows in
/// different orders deadlocked (PostgreSQL broke it after `deadlock_timeout`, 1 s, and one of them was retried).
struct AppendStatement: PostgresPreparedStatement {
    static let sql = """
        WITH lk AS MATERIALIZED (
            SELECT r.id FROM swiftlet_requests r WHERE r.id = ANY($1::int8[]) AND r.instance = $7 ORDER BY r.id FOR UPDATE),
        d AS (
            SELECT x.id, x.start, x.toks, NULLIF(x.fin, '') AS fin, NULLIF(x.reason, '') AS reason, NULLIF(x.err, '') AS err,
                   NULLIF(x.lp, '')::jsonb AS lp, NULLIF(x.plp, '')::jsonb AS plp
            FROM unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[])
                 AS x(id, start, toks, fin, reason, err, lp, plp)),
        u AS (
            UPDATE swiftlet_requests r SET tokens = r.tokens || string_to_array(d.toks, ',')::int4[],
                state = CASE WHEN d.err IS NOT NULL THEN 'failed' WHEN d.fin IS NOT NULL THEN 'done' ELSE r.state END,
                finish_reason = COALESCE(d.fin, r.finish_reason), stop_reason = COALESCE(d.reason, r.stop_reason),
                error = COALESCE(d.err, r.error), updated_at = clock_timestamp(),
                logprobs = CASE WHEN d.lp IS NULL THEN r.logprobs ELSE r.logprobs || d.lp END,
                prompt_logprobs = COALESCE(d.plp, r.prompt_logprobs)
            FROM d JOIN lk ON lk.id = d.id
            WHERE r.id = d.id AND r.state = 'assigned' AND r.instance = $7 AND cardinality(r.tokens) = d.start
            RETURNING r.id, r.origin, d.start, d.toks, d.fin,
                      (d.reason IS NOT NULL OR d.err IS NOT NULL OR d.lp IS NOT NULL OR d.plp IS NOT NULL
                       OR length(d.toks) > 200) AS big),
        lines AS (
            SELECT origin, (row_number() OVER (PARTITION BY origin) - 1) / 32 AS chunk,
                   id || ' ' || start || ' ' || COALESCE(fin, '-') || ' ' || CASE WHEN big THEN '*' ELSE toks END AS line
            FROM u),
        n AS (
            SELECT pg_notify('swiftlet_out_' || origin, string_agg(line, E'\\n')) FROM lines GROUP BY origin, chunk),
        s AS (
            SELECT pg_notify('swiftlet_sched', '') FROM (SELECT 1 FROM u WHERE fin IS NOT NULL LIMIT 1) z)
        SELECT u.id, (SELECT count(*) FROM n) + (SELECT count(*) FROM s) FROM u
        """
    typealias Row = Int64
    var instance: String
    var deltas: [TokenDelta]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 9)
        b.append(deltas.map(\.id))
        b.append(deltas.map { Int32($0.start) })
        b.append(deltas.map { $0.tokens.map(String.init).joined(separator: ",") })
        b.append(deltas.map { $0.error != nil ? "error" : ($0.finish?.rawValue ?? "") })
        b.append(deltas.map { $0.stopReason ?? "" })
        b.append(deltas.map { $0.error ?? "" })
        b.append(instance)
        b.append(deltas.map { $0.logprobs.isEmpty ? "" : Self.json($0.logprobs) })
        b.append(deltas.map { $0.promptLogprobs.map(Self.json) ?? "" })
        return b
    }

    static func json(_ l: [TokenLogprob]) -> String {
        (try? String(decoding: JSONEncoder().encode(l), as: UTF8.self)) ?? "[]"
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode((Int64, Int64).self).0 }
}

/// Takes up to `limit` requests assigned to `instance` and not yet started, renewing their leases. With `holding`
/// (the requests the instance runs), also those it started but does not hold: a claim whose answer was lost (timed
/// out, connection dropped after the commit) left them started, and nobody else would ever run them.
struct ClaimStatement: PostgresPreparedStatement {
    static let sql = """
        WITH c AS (
            SELECT id FROM swiftlet_requests WHERE state = 'assigned' AND instance = $1
              AND (NOT started OR ($4 AND NOT (id = ANY($5::int8[]))))
            ORDER BY priority, arrival, id LIMIT $2 FOR UPDATE SKIP LOCKED)
        UPDATE swiftlet_requests r SET started = true, claimed_at = clock_timestamp(),
            lease_expiry = clock_timestamp() + make_interval(secs => $3)
        FROM c WHERE r.id = c.id
        RETURNING r.id, r.prompt, r.params::text, r.priority, r.tokens, r.attempts
        """
    typealias Row = (Int64, [Int32], String, Int, [Int32], Int)
    var instance: String
    var limit: Int
    var leaseSeconds: Double
    var holding: [Int64]?

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 5)
        b.append(instance); b.append(Int64(limit)); b.append(leaseSeconds)
        b.append(holding != nil); b.append(holding ?? [])
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
