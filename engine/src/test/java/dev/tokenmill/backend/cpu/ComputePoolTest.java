package dev.tokenmill.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ComputePoolTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyDispatches() {
        try (ComputePool pool = new ComputePool(3)) {
            for (int n : new int[] {1, 2, 3, 7, 100, 1001}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                for (int round = 0; round < 50; round++) {
                    pool.parallelFor(n, (from, to, worker) -> {
                        for (int i = from; i < to; i++) hits.incrementAndGet(i);
                    });
                }
                for (int i = 0; i < n; i++) assertThat(hits.get(i)).as("index %d of %d", i, n).isEqualTo(50);
            }
        }
    }

    @Test
    void chunkFailureReachesTheCallerWhicheverThreadRanIt() {
        try (ComputePool pool = new ComputePool(2)) {
            assertThatThrownBy(() -> pool.parallelFor(10, (from, to, worker) -> {
                if (from <= 6 && 6 < to) throw new IllegalStateException("boom in chunk");
            })).hasMessage("boom in chunk");
            // the pool still works afterwards
            java.util.concurrent.atomic.AtomicInteger total = new java.util.concurrent.atomic.AtomicInteger();
            pool.parallelFor(10, (from, to, worker) -> total.addAndGet(to - from));
            assertThat(total.get()).isEqualTo(10);
        }
    }

    @Test
    void workerNumbersStayWithinTheTeam() {
        try (ComputePool pool = new ComputePool(3)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(3);
            for (int round = 0; round < 20; round++) pool.parallelFor(64, (from, to, worker) -> seen.incrementAndGet(worker));
            int total = 0;
            for (int w = 0; w < 3; w++) total += seen.get(w);
            assertThat(total).as("12 chunks per dispatch").isEqualTo(20 * 12);
        }
    }
}
