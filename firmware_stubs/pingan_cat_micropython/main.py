"""Ping'an Cat home unit entry point for a MicroPython board (ESP32 class).

Copy `pingan_cat.py`, `config.py` (see config_example.py) and this file to the board.
Needs `umqtt.simple` (mip install umqtt.simple; umqtt.robust works too). Wiring: PIR
output on PIR_PIN, SOS button (to GND, pull-up) on SOS_PIN, a buzzer or LED on LED_PIN.
A short press of the SOS button sends `sos`; a long press (>= 2 s) within the cancel
window sends `sos_cancel`.

Not imported by the tests: the logic lives in pingan_cat.py.
"""

import time

import config
import machine
import network
import ntptime
from pingan_cat import PinganCat
from umqtt.simple import MQTTClient

# MicroPython ports count from 2000-01-01; the protocol wants Unix epoch seconds.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def clock():
    return time.time() + EPOCH_OFFSET


def wifi_up():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
        for _ in range(100):
            if wlan.isconnected():
                break
            time.sleep_ms(100)
    return wlan


def main():
    wlan = wifi_up()
    try:  # noqa: SIM105 (no contextlib on MicroPython)
        ntptime.settime()  # device ts must be UTC; the hub flags clocks > 5 min ahead
    except Exception:
        pass
    led = machine.Pin(config.LED_PIN, machine.Pin.OUT)
    pir = machine.Pin(config.PIR_PIN, machine.Pin.IN)
    button = machine.Pin(config.SOS_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    flags = {"motion": False}

    def on_pir(pin):  # ISR: only set a flag
        flags["motion"] = True

    pir.irq(trigger=machine.Pin.IRQ_RISING, handler=on_pir)

    def speaker(what, detail):
        # Replace with a DFPlayer/I2S prompt ("help is coming" = 救援人员正在赶来).
        blinks = {"help_coming": 5, "sos_sent": 2, "sos_cancelled": 1}.get(what, 1)
        for _ in range(blinks):
            led.on()
            time.sleep_ms(150)
            led.off()
            time.sleep_ms(150)

    def factory():
        return MQTTClient(config.DEVICE_ID, config.MQTT_HOST, port=config.MQTT_PORT,
                          user=config.DEVICE_ID, password=config.MQTT_PASSWORD,
                          keepalive=config.KEEPALIVE_S)

    cat = PinganCat(config.DEVICE_ID, factory, clock, speaker=speaker,
                    heartbeat_s=config.HEARTBEAT_S, keepalive_s=config.KEEPALIVE_S,
                    motion_debounce_s=config.MOTION_DEBOUNCE_S, log=print)
    pressed_at = None
    while True:
        if not wlan.isconnected():
            wlan = wifi_up()
        try:  # noqa: SIM105 (no contextlib on MicroPython)
            cat.rssi = wlan.status("rssi")
        except Exception:
            pass
        if flags["motion"]:
            flags["motion"] = False
            cat.motion()
        if button.value() == 0 and pressed_at is None:
            pressed_at = time.ticks_ms()
        elif button.value() == 1 and pressed_at is not None:
            held = time.ticks_diff(time.ticks_ms(), pressed_at)
            pressed_at = None
            if held >= 2000:
                cat.sos_cancel()
            elif held >= 50:
                cat.sos()
        cat.tick()
        time.sleep_ms(100)


main()
