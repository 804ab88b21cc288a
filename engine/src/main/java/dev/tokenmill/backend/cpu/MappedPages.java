package dev.tokenmill.backend.cpu;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Drops pages of a read-only file mapping from this process ({@code madvise(MADV_DONTNEED)}) once the weights they
 * hold have been repacked elsewhere, so that the model is not resident twice. The file stays mapped: a later read
 * faults the page back in from the page cache with the same bytes. A no-op where madvise is unavailable.
 */
final class MappedPages {
    private static final Logger LOG = LoggerFactory.getLogger(MappedPages.class);
    private static final int MADV_DONTNEED = 4; // Linux
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = lookup();

    private MappedPages() {}

    /** Releases the whole pages inside {@code segment} (a slice of a mapped file). */
    static void release(MemorySegment segment) {
        if (MADVISE == null || !segment.isNative()) return;
        dontNeed((segment.address() + PAGE - 1) / PAGE * PAGE, (segment.address() + segment.byteSize()) / PAGE * PAGE);
    }

    /** madvise(MADV_DONTNEED) over the page-aligned range [start, end); nothing if it is empty. */
    private static void dontNeed(long start, long end) {
        if (end <= start) return;
        try {
            int rc = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
            if (rc != 0) LOG.debug("madvise returned {}", rc);
        } catch (Throwable t) {
            LOG.debug("madvise failed", t);
        }
    }

    private static MethodHandle lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) return null;
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise").map(addr -> linker.downcallHandle(addr,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            LOG.debug("madvise is not available", e);
            return null;
        }
    }
}
