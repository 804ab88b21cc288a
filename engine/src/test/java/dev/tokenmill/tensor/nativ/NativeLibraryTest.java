package dev.tokenmill.tensor.nativ;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** How the library loader reads {@code -Dtokenmill.native} and what it says when it cannot load. */
class NativeLibraryTest {

    @Test
    void offAndFalseSwitchTheLibraryOffWithTheReason() {
        for (String mode : new String[] {"off", "false", "OFF"}) {
            NativeLibrary.Outcome o = NativeLibrary.load(mode, NativeLibrary.RESOURCE);
            assertThat(o.library()).as(mode).isNull();
            assertThat(o.reason()).isEqualTo("switched off by -Dtokenmill.native=" + mode);
        }
    }

    @Test
    void aMissingLibraryIsReportedWithItsPath() {
        assumeTrue(System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("linux"));
        NativeLibrary.Outcome o = NativeLibrary.load("required", "/native/linux-x86_64/libnot-built.so");
        assertThat(o.library()).isNull();
        assertThat(o.reason()).isEqualTo("/native/linux-x86_64/libnot-built.so is not on the class path (gcc missing when the engine was built?)");
    }

    @Test
    void anUnknownModeLoadsNothingAndSaysWhy() {
        NativeLibrary.Outcome o = NativeLibrary.load("maybe", NativeLibrary.RESOURCE);
        assertThat(o.library()).isNull();
        assertThat(o.reason()).isEqualTo("-Dtokenmill.native must be auto, required or off, got 'maybe'");
    }

    @Test
    void autoRequiredAndUnsetLoadTheLibraryWhereItIsBuilt() {
        assumeTrue(NativeKernels.available(), "native kernels are not available here");
        for (String mode : new String[] {null, "auto", "true", "required"}) {
            NativeLibrary.Outcome o = NativeLibrary.load(mode, NativeLibrary.RESOURCE);
            assertThat(o.reason()).as(mode).isNull();
            assertThat(o.library()).as(mode).isNotNull();
        }
    }
}
