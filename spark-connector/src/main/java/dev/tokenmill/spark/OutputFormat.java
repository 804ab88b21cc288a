package dev.tokenmill.spark;

import java.util.Locale;

/** The file formats the {@code tokenmill} sink writes. */
enum OutputFormat {
    PARQUET, ARROW;

    static OutputFormat parse(String v) {
        if (v == null) return PARQUET;
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "parquet" -> PARQUET;
            case "arrow", "ipc", "feather" -> ARROW;
            default -> throw new IllegalArgumentException("tokenmill option 'outputFormat' must be parquet or arrow, got " + v);
        };
    }
}
