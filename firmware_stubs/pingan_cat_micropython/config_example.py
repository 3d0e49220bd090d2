# Copy to config.py on the board. The password is this device's own MQTT credential
# (from `pingan devices provision`); the MQTT username is the device id.
DEVICE_ID = "cat-0001"
MQTT_PASSWORD = "change-me"
MQTT_HOST = "192.168.1.10"
MQTT_PORT = 1883
WIFI_SSID = "community-wifi"
WIFI_PASSWORD = "change-me"
HEARTBEAT_S = 300
KEEPALIVE_S = 60
MOTION_DEBOUNCE_S = 60
PIR_PIN = 14
SOS_PIN = 0
LED_PIN = 2
