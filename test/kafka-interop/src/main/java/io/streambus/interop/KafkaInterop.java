package io.streambus.interop;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.ControlRecordType;
import org.apache.kafka.common.record.EndTransactionMarker;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;

/**
 * Apache Kafka's own RecordBatch code as the reference for StreamBus's codecs.
 *
 * <ul>
 *   <li>{@code generate <dir>}: builds batches with MemoryRecordsBuilder and writes one golden
 *       vector JSON per batch; the expectation is read back with Kafka's own reader, so the JSON
 *       says what Kafka decodes, not what we meant to write.</li>
 *   <li>{@code decode <file>}: reads one hex batch per line, runs ensureValid (CRC + header) and
 *       prints a JSON array of decoded batches (same shape as a vector's "batch").</li>
 * </ul>
 *
 * Every value is deterministic (fixed timestamps, seeded bytes), so a rerun with the same Kafka
 * version writes the same uncompressed bytes.
 */
public final class KafkaInterop {
    private static final long T0 = 1_700_000_000_000L; // fixed epoch ms: reproducible vectors

    private KafkaInterop() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("generate")) {
            generate(Path.of(args[1]));
        } else if (args.length == 2 && args[0].equals("decode")) {
            decode(Path.of(args[1]));
        } else {
            System.err.println("usage: KafkaInterop generate <dir> | decode <file-with-hex-batches>");
            System.exit(2);
        }
    }

    // ---------------------------------------------------------------- generate

    /** One record to append; timestamp is absolute ms. */
    private record Rec(long timestamp, byte[] key, byte[] value, Header[] headers) {}

    /** Batch-level settings handed to MemoryRecords.builder. */
    private record Spec(String name, String description, Compression compression, TimestampType timestampType,
                        long baseOffset, long logAppendTime, long producerId, short producerEpoch, int baseSequence,
                        boolean isTransactional, int partitionLeaderEpoch, List<Rec> records) {}

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Header[] noHeaders() {
        return new Header[0];
    }

    /** Deterministic, moderately compressible bytes (so compressed vectors span real blocks). */
    private static byte[] patterned(int size, long seed) {
        byte[] out = new byte[size];
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        String words = "streambus kafka record batch offset leader epoch isr watermark ";
        for (int i = 0; i < size; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            out[i] = (x & 7) == 0 ? (byte) (x >>> 24) : (byte) words.charAt(i % words.length());
        }
        return out;
    }

    private static List<Rec> simpleRecords(int count, long t0) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new Rec(t0 + i, utf8("key-" + i), utf8("value-" + i), noHeaders()));
        }
        return out;
    }

    private static List<Rec> mixedRecords() {
        List<Rec> out = new ArrayList<>();
        out.add(new Rec(T0, utf8("k0"), utf8("hello"), noHeaders()));
        out.add(new Rec(T0 + 5, null, utf8("null key"), noHeaders()));
        out.add(new Rec(T0 + 3, utf8("tombstone"), null, noHeaders()));
        out.add(new Rec(T0 + 9, new byte[0], new byte[0], new Header[] {
            new RecordHeader("trace-id", utf8("abc123")), new RecordHeader("empty", null)}));
        out.add(new Rec(T0 + 1, utf8("ключ-鍵-🔑"), patterned(300, 7), noHeaders()));
        return out;
    }

    private static List<Spec> specs() {
        List<Spec> s = new ArrayList<>();
        short noEpoch = RecordBatch.NO_PRODUCER_EPOCH;
        long noPid = RecordBatch.NO_PRODUCER_ID;
        int noSeq = RecordBatch.NO_SEQUENCE;
        int noLeader = RecordBatch.NO_PARTITION_LEADER_EPOCH;
        TimestampType create = TimestampType.CREATE_TIME;
        TimestampType logAppend = TimestampType.LOG_APPEND_TIME;

        s.add(new Spec("none-basic", "3 records as a plain producer writes them: no producer id, leader epoch -1",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            simpleRecords(3, T0)));
        s.add(new Spec("none-single-record", "one record, key and value non-empty",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0, utf8("k"), utf8("v"), noHeaders()))));
        s.add(new Spec("none-empty-key", "empty (zero-length, not null) key and value",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0, new byte[0], new byte[0], noHeaders()),
                new Rec(T0, new byte[0], utf8("x"), noHeaders()))));
        s.add(new Spec("none-null-key", "null key (keyLength -1)",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0, null, utf8("no key here"), noHeaders()),
                new Rec(T0 + 1, null, utf8("nor here"), noHeaders()))));
        s.add(new Spec("none-null-value", "null value (tombstone, valueLength -1)",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0, utf8("deleted-key"), null, noHeaders()))));
        s.add(new Spec("none-headers", "headers: several per record, a null header value, an empty header value, duplicate keys",
            Compression.NONE, create, 10, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, 3,
            List.of(
                new Rec(T0, utf8("a"), utf8("1"), new Header[] {
                    new RecordHeader("content-type", utf8("application/json")),
                    new RecordHeader("null-value", null),
                    new RecordHeader("empty-value", new byte[0])}),
                new Rec(T0 + 1, utf8("b"), utf8("2"), new Header[] {
                    new RecordHeader("dup", utf8("first")), new RecordHeader("dup", utf8("second"))}),
                new Rec(T0 + 2, utf8("c"), utf8("3"), noHeaders()))));
        s.add(new Spec("none-unicode", "unicode keys, values and header keys (2-, 3- and 4-byte UTF-8)",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(
                new Rec(T0, utf8("héllo"), utf8("wörld"), new Header[] {new RecordHeader("ключ", utf8("значение"))}),
                new Rec(T0 + 1, utf8("日本語キー"), utf8("値"), new Header[] {new RecordHeader("鍵", null)}),
                new Rec(T0 + 2, utf8("emoji-🚀🔥"), utf8("🎉"), new Header[] {new RecordHeader("🏷️", utf8("tag"))}))));
        s.add(new Spec("none-many-records", "300 records (offset deltas and lengths past one varint byte)",
            Compression.NONE, create, 1000, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, 2,
            simpleRecords(300, T0)));
        s.add(new Spec("none-large-value", "one 70000-byte value (3-byte varint length)",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0, utf8("big"), patterned(70_000, 1), noHeaders()))));
        s.add(new Spec("none-timestamps-unordered", "record timestamps out of order: maxTimestamp is not the last one; negative deltas",
            Compression.NONE, create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
            List.of(new Rec(T0 + 100, utf8("a"), utf8("1"), noHeaders()),
                new Rec(T0 + 500, utf8("b"), utf8("2"), noHeaders()),
                new Rec(T0 - 2000, utf8("c"), utf8("3"), noHeaders()),
                new Rec(T0 + 20, utf8("d"), utf8("4"), noHeaders()))));
        s.add(new Spec("none-log-append-time", "log-append time: maxTimestamp is the append time and every record reads it",
            Compression.NONE, logAppend, 42, T0 + 777, noPid, noEpoch, noSeq, false, 5,
            List.of(new Rec(T0 + 777, utf8("a"), utf8("1"), noHeaders()),
                new Rec(T0 + 777, utf8("b"), utf8("2"), noHeaders()))));
        s.add(new Spec("none-idempotent", "idempotent producer: producerId/epoch/baseSequence, large baseOffset, leader epoch 7",
            Compression.NONE, create, 1L << 40, RecordBatch.NO_TIMESTAMP, 123_456_789_012L, (short) 3, 1000, false, 7,
            simpleRecords(4, T0)));
        s.add(new Spec("none-transactional", "transactional batch (attributes bit 4)",
            Compression.NONE, create, 500, RecordBatch.NO_TIMESTAMP, 77L, (short) 1, 0, true, 11,
            simpleRecords(2, T0)));
        s.add(new Spec("none-max-values", "extreme but JS-safe values: producerId 2^53-1, epoch 32767, sequence 2^31-1",
            Compression.NONE, create, (1L << 53) - 100, RecordBatch.NO_TIMESTAMP, (1L << 53) - 1, Short.MAX_VALUE,
            Integer.MAX_VALUE, false, Integer.MAX_VALUE, simpleRecords(2, T0)));

        String[] codecs = {"gzip", "snappy", "lz4", "zstd"};
        for (String c : codecs) {
            s.add(new Spec(c + "-mixed", c + ": null key, null value, empty key/value, headers, unicode",
                compression(c), create, 7, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, 1, mixedRecords()));
            s.add(new Spec(c + "-large", c + ": 20 records of 1 KiB plus one 80000-byte value (many compressed blocks)",
                compression(c), create, 0, RecordBatch.NO_TIMESTAMP, noPid, noEpoch, noSeq, false, noLeader,
                largeRecords()));
        }
        s.add(new Spec("lz4-log-append-time", "lz4 with log-append time",
            compression("lz4"), logAppend, 9000, T0 + 55, noPid, noEpoch, noSeq, false, 4,
            List.of(new Rec(T0 + 55, utf8("x"), utf8("y"), noHeaders()), new Rec(T0 + 55, utf8("z"), null, noHeaders()))));
        s.add(new Spec("zstd-transactional", "zstd transactional batch with producer state",
            compression("zstd"), create, 2048, RecordBatch.NO_TIMESTAMP, 4242L, (short) 9, 17, true, 12,
            simpleRecords(5, T0)));
        return s;
    }

    private static List<Rec> largeRecords() {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            out.add(new Rec(T0 + i, utf8("key-" + i), patterned(1024, i + 100), noHeaders()));
        }
        out.add(new Rec(T0 + 20, utf8("big"), patterned(80_000, 3), noHeaders()));
        return out;
    }

    private static Compression compression(String name) {
        return switch (name) {
            case "gzip" -> Compression.gzip().build();
            case "snappy" -> Compression.snappy().build();
            case "lz4" -> Compression.lz4().build();
            case "zstd" -> Compression.zstd().build();
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static ByteBuffer build(Spec spec) {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        MemoryRecordsBuilder b = MemoryRecords.builder(buf, RecordBatch.MAGIC_VALUE_V2, spec.compression(),
            spec.timestampType(), spec.baseOffset(), spec.logAppendTime(), spec.producerId(), spec.producerEpoch(),
            spec.baseSequence(), spec.isTransactional(), false, spec.partitionLeaderEpoch());
        long offset = spec.baseOffset();
        for (Rec r : spec.records()) {
            b.appendWithOffset(offset++, r.timestamp(), r.key(), r.value(), r.headers());
        }
        return b.build().buffer();
    }

    private static ByteBuffer controlBatch(ControlRecordType type) {
        // Kafka writes end-transaction markers as a control batch holding one control record.
        return MemoryRecords.withEndTransactionMarker(3000L, T0 + 999, 6, 4242L, (short) 9,
            new EndTransactionMarker(type, 21)).buffer();
    }

    private static void generate(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String[]> out = new ArrayList<>(); // name, description, bytes-hex
        for (Spec spec : specs()) {
            out.add(new String[] {spec.name(), spec.description(), hex(toBytes(build(spec)))});
        }
        out.add(new String[] {"control-commit", "control batch with a COMMIT end-transaction marker (attributes bits 4 and 5)",
            hex(toBytes(controlBatch(ControlRecordType.COMMIT)))});
        out.add(new String[] {"control-abort", "control batch with an ABORT end-transaction marker",
            hex(toBytes(controlBatch(ControlRecordType.ABORT)))});
        for (String[] v : out) {
            List<String> batches = decodeAll(unhex(v[2]));
            if (batches.size() != 1) throw new IllegalStateException(v[0] + ": expected one batch");
            String json = "{\n  \"name\": " + str(v[0]) + ",\n  \"description\": " + str(v[1])
                + ",\n  \"hex\": " + str(v[2]) + ",\n  \"batch\": " + batches.get(0) + "\n}\n";
            Files.writeString(dir.resolve(v[0] + ".json"), json, StandardCharsets.UTF_8);
        }
        System.err.println("wrote " + out.size() + " vectors to " + dir);
    }

    // ---------------------------------------------------------------- decode

    private static void decode(Path file) throws IOException {
        List<String> all = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (t.isEmpty()) continue;
            all.addAll(decodeAll(unhex(t)));
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        out.print("[\n" + String.join(",\n", all) + "\n]\n");
        out.flush();
    }

    /** Decodes every batch in buf with Kafka's reader; the CRC and header are checked first. */
    private static List<String> decodeAll(byte[] bytes) {
        List<String> out = new ArrayList<>();
        MemoryRecords records = MemoryRecords.readableRecords(ByteBuffer.wrap(bytes));
        int consumed = 0;
        for (MutableRecordBatch batch : records.batches()) {
            batch.ensureValid();
            if (batch.magic() != RecordBatch.MAGIC_VALUE_V2) throw new IllegalStateException("magic " + batch.magic());
            ByteBuffer raw = ByteBuffer.wrap(bytes, consumed, batch.sizeInBytes()).slice();
            consumed += batch.sizeInBytes();
            out.add(batchJson(batch, raw));
        }
        if (consumed != bytes.length) throw new IllegalStateException("trailing bytes: " + (bytes.length - consumed));
        return out;
    }

    private static String batchJson(MutableRecordBatch batch, ByteBuffer raw) {
        // attributes and lastOffsetDelta have no public getter; read them at their fixed header positions.
        int attributes = raw.getShort(21) & 0xffff;
        int lastOffsetDelta = raw.getInt(23);
        StringBuilder sb = new StringBuilder();
        sb.append("{\n    \"baseOffset\": ").append(batch.baseOffset())
            .append(",\n    \"partitionLeaderEpoch\": ").append(batch.partitionLeaderEpoch())
            .append(",\n    \"magic\": ").append(batch.magic())
            .append(",\n    \"crc\": ").append(batch.checksum())
            .append(",\n    \"attributes\": ").append(attributes)
            .append(",\n    \"compression\": ").append(str(batch.compressionType().name))
            .append(",\n    \"timestampType\": ")
            .append(str(batch.timestampType() == TimestampType.LOG_APPEND_TIME ? "log-append" : "create"))
            .append(",\n    \"isTransactional\": ").append(batch.isTransactional())
            .append(",\n    \"isControl\": ").append(batch.isControlBatch())
            .append(",\n    \"lastOffsetDelta\": ").append(lastOffsetDelta)
            .append(",\n    \"baseTimestamp\": ").append(raw.getLong(27))
            .append(",\n    \"maxTimestamp\": ").append(batch.maxTimestamp())
            .append(",\n    \"producerId\": ").append(batch.producerId())
            .append(",\n    \"producerEpoch\": ").append(batch.producerEpoch())
            .append(",\n    \"baseSequence\": ").append(batch.baseSequence())
            .append(",\n    \"recordCount\": ").append(batch.countOrNull())
            .append(",\n    \"records\": [");
        boolean first = true;
        for (Record r : batch) {
            r.ensureValid();
            sb.append(first ? "\n" : ",\n");
            first = false;
            sb.append("      { \"offset\": ").append(r.offset())
                .append(", \"timestamp\": ").append(r.timestamp())
                .append(", \"key\": ").append(r.hasKey() ? str(hex(toBytes(r.key()))) : "null")
                .append(", \"value\": ").append(r.hasValue() ? str(hex(toBytes(r.value()))) : "null")
                .append(", \"headers\": [");
            Header[] headers = r.headers();
            for (int i = 0; i < headers.length; i++) {
                Header h = headers[i];
                sb.append(i == 0 ? "" : ", ").append("{ \"key\": ").append(str(h.key()))
                    .append(", \"value\": ").append(h.value() == null ? "null" : str(hex(h.value()))).append(" }");
            }
            sb.append("] }");
        }
        sb.append(first ? "]\n  }" : "\n    ]\n  }");
        return sb.toString();
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] toBytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static String hex(byte[] b) {
        char[] out = new char[b.length * 2];
        for (int i = 0; i < b.length; i++) {
            out[2 * i] = HEX[(b[i] >> 4) & 15];
            out[2 * i + 1] = HEX[b[i] & 15];
        }
        return new String(out);
    }

    private static byte[] unhex(String s) {
        if (s.length() % 2 != 0) throw new IllegalArgumentException("odd hex length");
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length() / 2);
        for (int i = 0; i < s.length(); i += 2) {
            int hi = Character.digit(s.charAt(i), 16);
            int lo = Character.digit(s.charAt(i + 1), 16);
            if (hi < 0 || lo < 0) throw new IllegalArgumentException("bad hex at " + i);
            out.write(hi * 16 + lo);
        }
        return out.toByteArray();
    }

    /** A JSON string literal; non-ASCII stays as UTF-8, control characters are escaped. */
    private static String str(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
