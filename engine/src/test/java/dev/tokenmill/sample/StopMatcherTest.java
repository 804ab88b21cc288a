package dev.tokenmill.sample;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StopMatcherTest {

    @Test
    void stopStringSplitAcrossPiecesIsCutAndNeverEmitted() {
        StopMatcher m = new StopMatcher(List.of("</end>"));
        StringBuilder out = new StringBuilder();
        for (String piece : new String[] {"Hello <", "/e", "nd> more"}) out.append(m.push(piece));
        assertThat(m.stopped()).isTrue();
        assertThat(out).hasToString("Hello ");
        assertThat(m.push("later")).isEmpty();
    }

    @Test
    void heldBackPrefixIsReleasedWhenItStopsMatching() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertThat(m.push("a ST")).isEqualTo("a ");
        assertThat(m.push("AR")).isEqualTo("STAR");
        assertThat(m.push("S")).isEmpty();
        assertThat(m.flush()).isEqualTo("S");
        assertThat(m.stopped()).isFalse();
    }

    @Test
    void earliestOfSeveralStopStringsWins() {
        StopMatcher m = new StopMatcher(List.of("world", "lo w"));
        assertThat(m.push("hello world")).isEqualTo("hel");
    }

    @Test
    void noStopStringsPassesEverythingThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertThat(m.push("abc")).isEqualTo("abc");
        assertThat(m.flush()).isEmpty();
    }
}
